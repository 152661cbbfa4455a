"""Who may open an OCPP connection, and how often: bounds that a hostile client
cannot talk its way past, each checked before any slow work is done for it.

- Station passwords (``LoginGuard``): every wrong password spends a token of its
  (station id, client address) pair and of its client address; with either
  bucket empty the answer is ``429`` at once, with no hash and no compare. A
  station id also has a budget of slow (scrypt) checks for addresses it never
  logged in from, so a flood from many addresses cannot keep two scrypt threads
  busy. An address the station logged in from before passes the per-address and
  per-id budgets: a flood of wrong passwords from elsewhere never locks the real
  station out, and its own failures slow only itself.
- Connections (``ConnectionCounts``): a cap per port and per client address.
- New stations (``TokenBuckets`` keyed by address): in ``accept`` mode each id
  tried becomes a record, so one address may create only so many per minute.

IPv6 clients are keyed by their /64, the block one subscriber usually holds. The
host's own addresses (``127.0.0.1``, ``::1``) have no per-address bounds on
connections or new stations: what connects from there is a proxy in front of the
node, a simulator or a benchmark, each speaking for many stations.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from itertools import islice

from chargeledger.application.registry import verify_password

THIS_HOST = frozenset({"127.0.0.1", "::1"})


def client_key(address: str) -> str:
    """The unit a per-address bound counts: the IPv4 address, or the IPv6 /64."""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.is_loopback:
        return "::1"
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


class TokenBuckets:
    """Token buckets by key: ``capacity`` tokens, refilled at ``per_second``. A key
    without an entry holds a full bucket, so only keys that spent take memory; past
    ``max_keys`` the full buckets are dropped, then the oldest entries."""

    def __init__(self, capacity: float, per_second: float, max_keys: int = 100_000) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def level(self, key: Hashable, now: float) -> float:
        entry = self._buckets.get(key)
        if entry is None:
            return self.capacity
        tokens, at = entry
        return min(self.capacity, tokens + (now - at) * self.per_second)

    def take(self, key: Hashable, now: float) -> bool:
        """Spend one token if there is one."""
        level = self.level(key, now)
        if level < 1.0:
            return False
        self._buckets.pop(key, None)  # re-inserted last: the dict stays in update order
        self._buckets[key] = (level - 1.0, now)
        if len(self._buckets) > self.max_keys:
            self._prune(now)
        return True

    def give_back(self, key: Hashable, now: float) -> None:
        if key in self._buckets:
            level = min(self.capacity, self.level(key, now) + 1.0)
            self._buckets[key] = (level, now)

    def retry_after_s(self, key: Hashable, now: float) -> float:
        return max(0.0, (1.0 - self.level(key, now)) / self.per_second)

    def _prune(self, now: float) -> None:
        for key in [k for k in self._buckets if self.level(k, now) >= self.capacity]:
            del self._buckets[key]
        excess = len(self._buckets) - self.max_keys // 2
        if excess > 0:
            for key in list(islice(self._buckets, excess)):
                del self._buckets[key]


class LoginVerdict(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class LoginLimits:
    """Failed logins allowed before ``429``, each budget refilling one token per period."""

    failures_per_station_and_address: float = 5
    station_and_address_refill_s: float = 10.0
    failures_per_address: float = 20
    address_refill_s: float = 3.0
    new_address_checks_per_station: float = 10
    """Checks (slow or cached) of one station id's password from addresses it never
    logged in from and that have no recent failure for it (the real station's first
    login comes from one)."""
    new_address_refill_s: float = 1.0
    failing_address_checks_per_station: float = 4
    """Checks (slow or cached) of one station id's password from addresses with a
    recent failure for it: the guessers draw on this budget, not on the one a new,
    honest address needs."""
    failing_address_refill_s: float = 2.0
    max_slow_checks: int = 2
    """scrypt runs at once (each takes 16 MB and a core for ~50 ms)."""


class LoginGuard:
    """Checks station passwords within ``LoginLimits``. A password that passed scrypt
    is remembered as an HMAC under a key made at start, tied to the stored hash, so
    ten thousand stations reconnecting after a restart cost one slow hash each."""

    def __init__(
        self,
        limits: LoginLimits | None = None,
        verify: Callable[[str, str], bool] = verify_password,
    ) -> None:
        self.limits = limits = limits or LoginLimits()
        self._verify = verify
        self._key = os.urandom(32)
        self._known: dict[str, tuple[str, bytes]] = {}
        self._trusted: dict[str, set[str]] = {}
        self._slow = asyncio.Semaphore(limits.max_slow_checks)
        self._pair_failures = TokenBuckets(
            limits.failures_per_station_and_address, 1 / limits.station_and_address_refill_s
        )
        self._address_failures = TokenBuckets(
            limits.failures_per_address, 1 / limits.address_refill_s
        )
        self._new_address_checks = TokenBuckets(
            limits.new_address_checks_per_station, 1 / limits.new_address_refill_s
        )
        self._failing_address_checks = TokenBuckets(
            limits.failing_address_checks_per_station, 1 / limits.failing_address_refill_s
        )
        self.slow_checks = 0
        """How many passwords went through scrypt (for tests and metrics)."""

    async def check(
        self, station_id: str, address: str, password: str, stored_hash: str
    ) -> LoginVerdict:
        now = time.monotonic()
        address = client_key(address)
        pair = (station_id, address)
        trusted = address in self._trusted.get(station_id, ())
        clean = self._pair_failures.level(pair, now) >= self._pair_failures.capacity
        # Tokens are spent before checking and given back on success, so that a
        # burst of guesses in flight at once cannot all pass an "is there budget?".
        if not self._pair_failures.take(pair, now):
            return LoginVerdict.THROTTLED
        if not trusted and not self._address_failures.take(address, now):
            self._pair_failures.give_back(pair, now)
            return LoginVerdict.THROTTLED
        budget = (
            None if trusted else self._new_address_checks if clean else self._failing_address_checks
        )
        valid = await self._matches(station_id, password, stored_hash, budget, now)
        if valid is None:
            # Refused unchecked, yet a guess all the same: the tokens stay spent, or a
            # few addresses could take every slow check of this id as it refills.
            return LoginVerdict.THROTTLED
        if not valid:
            return LoginVerdict.REFUSED
        now = time.monotonic()
        self._pair_failures.give_back(pair, now)
        if not trusted:
            self._address_failures.give_back(address, now)
        self._trust(station_id, address)
        return LoginVerdict.ACCEPTED

    def retry_after_s(self, station_id: str, address: str) -> float:
        now = time.monotonic()
        address = client_key(address)
        return max(
            self._pair_failures.retry_after_s((station_id, address), now),
            self._address_failures.retry_after_s(address, now),
            self._failing_address_checks.retry_after_s(station_id, now),
            1.0,
        )

    async def _matches(
        self,
        station_id: str,
        password: str,
        stored_hash: str,
        checks: TokenBuckets | None,
        now: float,
    ) -> bool | None:
        """Whether the password is right; ``None`` when the station's budget of
        ``checks`` from untrusted addresses (if one applies) has none left. The budget
        holds for cached passwords too: a guesser with many addresses gets a handful of
        checks of one station id in all, however fast each is (issue 10)."""
        if checks is not None and not checks.take(station_id, now):
            return None
        mac = hmac.new(self._key, password.encode(), hashlib.sha256).digest()
        known = self._known.get(station_id)
        if known is not None and known[0] == stored_hash:
            return hmac.compare_digest(mac, known[1])
        async with self._slow:
            self.slow_checks += 1
            valid = await asyncio.to_thread(self._verify, password, stored_hash)
        if valid:
            self._known[station_id] = (stored_hash, mac)
        return valid

    def _trust(self, station_id: str, address: str) -> None:
        addresses = self._trusted.setdefault(station_id, set())
        if len(addresses) >= 8:
            addresses.clear()  # a station moves between few addresses; keep the recent
        addresses.add(address)


class ConnectionCounts:
    """Open connections on one port, in all and per client address; 0 means no cap."""

    def __init__(self, max_total: int, max_per_address: int) -> None:
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.total = 0
        self._by_address: dict[str, int] = {}

    def open(self, address: str) -> str | None:
        """Count a new connection, or say why it is one too many."""
        if self.max_total and self.total >= self.max_total:
            return f"the OCPP port holds its maximum of {self.max_total} connections"
        key = client_key(address)
        held = self._by_address.get(key, 0)
        if self.max_per_address and held >= self.max_per_address and key not in THIS_HOST:
            return f"{held} connections from {key} already; at most {self.max_per_address}"
        self.total += 1
        self._by_address[key] = held + 1
        return None

    def closed(self, address: str) -> None:
        key = client_key(address)
        held = self._by_address.get(key, 0)
        self.total -= 1
        if held <= 1:
            self._by_address.pop(key, None)
        else:
            self._by_address[key] = held - 1


class RateLimitedLog:
    """One line per ``interval_s`` at most for a kind of event, saying how many of
    them happened since the last line: a flood of failures is one line, not a
    line (or a traceback) each."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._last: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -float("inf")) < self._interval_s:
            self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
            return
        self._last[kind] = now
        unlogged = self._unlogged.pop(kind, 0)
        if unlogged:
            self._logger.warning(
                message + " (and %d more like it in the last %g s)",
                *args,
                unlogged,
                self._interval_s,
            )
        else:
            self._logger.warning(message, *args)
