"""Password checks: slow once per station, a guesser gets a handful of checks and
then 429s, and the real station logs in through any flood from elsewhere."""

from __future__ import annotations

import asyncio

from chargeledger.adapters.ocpp.admission import (
    LoginGuard,
    LoginVerdict,
    TokenBuckets,
    client_key,
)
from chargeledger.application.registry import hash_password, verify_password

STORED = hash_password("right")


class CountingVerify:
    """The real scrypt check, counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, password: str, stored_hash: str) -> bool:
        self.calls += 1
        return verify_password(password, stored_hash)


async def test_two_hundred_wrong_guesses_cost_a_handful_of_hashes() -> None:
    verify = CountingVerify()
    guard = LoginGuard(verify=verify)
    verdicts = await asyncio.gather(
        *(guard.check("CP-1", "10.0.0.9", f"guess-{n}", STORED) for n in range(200))
    )
    assert verdicts.count(LoginVerdict.REFUSED) <= 5
    assert verdicts.count(LoginVerdict.THROTTLED) >= 195
    assert verify.calls <= 5


async def test_guesses_against_a_cached_password_are_throttled_as_well() -> None:
    verify = CountingVerify()
    guard = LoginGuard(verify=verify)
    assert await guard.check("CP-1", "10.0.0.1", "right", STORED) is LoginVerdict.ACCEPTED
    verdicts = [await guard.check("CP-1", "10.0.0.9", f"g{n}", STORED) for n in range(200)]
    assert verdicts.count(LoginVerdict.REFUSED) <= 5  # fast compares, yet a handful
    assert verify.calls == 1


async def test_guesses_against_a_cached_password_from_many_addresses_are_bounded_by_station() -> (
    None
):
    """Issue 10, item 5: once a station had logged in, its password was compared from a
    cache with only the per-address budgets: a guesser with many addresses got five
    guesses from each. The station's own budget of checks bounds them all."""
    guard = LoginGuard()
    assert await guard.check("CP-1", "10.0.0.1", "right", STORED) is LoginVerdict.ACCEPTED
    verdicts = await asyncio.gather(
        *(
            guard.check("CP-1", f"10.2.{n}.1", f"g{n}-{k}", STORED)
            for n in range(100)
            for k in range(3)
        )
    )
    limits = guard.limits
    checked = limits.new_address_checks_per_station + limits.failing_address_checks_per_station
    assert verdicts.count(LoginVerdict.REFUSED) <= checked
    assert verdicts.count(LoginVerdict.THROTTLED) == 300 - verdicts.count(LoginVerdict.REFUSED)
    # and the station itself, from where it logged in before, is never held up
    for _ in range(5):
        assert await guard.check("CP-1", "10.0.0.1", "right", STORED) is LoginVerdict.ACCEPTED


async def test_the_real_station_logs_in_during_a_flood_from_other_addresses() -> None:
    verify = CountingVerify()
    guard = LoginGuard(verify=verify)

    async def flood() -> None:
        for n in range(400):
            await guard.check("CP-1", f"10.0.{n % 4}.9", f"guess-{n}", STORED)
            await asyncio.sleep(0)

    flooding = asyncio.create_task(flood())
    logins = []
    for _ in range(14):  # its first login (a slow hash) and then the cached ones
        logins.append(await guard.check("CP-1", "192.0.2.7", "right", STORED))
        await asyncio.sleep(0.005)
    await flooding
    assert logins == [LoginVerdict.ACCEPTED] * 14
    assert verify.calls <= 1 + 4 * 5


async def test_a_flood_from_many_addresses_cannot_keep_scrypt_busy() -> None:
    verify = CountingVerify()
    guard = LoginGuard(verify=verify)
    verdicts = await asyncio.gather(
        *(guard.check("CP-1", f"10.1.{n}.1", "wrong", STORED) for n in range(200))
    )
    assert verify.calls <= guard.limits.new_address_checks_per_station
    assert verdicts.count(LoginVerdict.THROTTLED) >= 190


async def test_a_wrong_password_then_the_right_one_from_the_same_place_logs_in() -> None:
    guard = LoginGuard()
    assert await guard.check("CP-1", "10.0.0.1", "typo", STORED) is LoginVerdict.REFUSED
    assert await guard.check("CP-1", "10.0.0.1", "right", STORED) is LoginVerdict.ACCEPTED
    assert await guard.check("CP-1", "10.0.0.1", "right", STORED) is LoginVerdict.ACCEPTED


def test_a_bucket_refills_and_forgets_keys_beyond_its_bound() -> None:
    buckets = TokenBuckets(capacity=2, per_second=1, max_keys=10)
    assert buckets.take("a", 0.0) and buckets.take("a", 0.0)
    assert not buckets.take("a", 0.5)
    assert buckets.take("a", 1.6)
    for n in range(50):
        buckets.take(n, 2.0)
    assert len(buckets._buckets) <= 10


def test_ipv6_clients_are_counted_by_their_64_block() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("192.0.2.1") == "192.0.2.1"
