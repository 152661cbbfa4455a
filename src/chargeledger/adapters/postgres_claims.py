"""A node's claims on stations in the cluster's registry, and their handover: which
node held each station before, and waiting (bounded) for it to release its connection.

Claims are batched: the claims that arrive while one transaction runs go in the next
one (row locks taken in one order, one NOTIFY for the batch, and only for stations
another node held), so a connect flood costs a few transactions a second, not one per
station with a NOTIFY each serialized at commit. Apart from ``postgres_presence.py``
since the batching and its locking order are one idea of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool

from chargeledger.adapters.postgres_presence_schema import ALIVE, CHANNEL, NOTICE_BYTES
from chargeledger.application.presence import Claim

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]]
"""Starts a task the presence owns (and cancels when it closes)."""

_HOLDER = (
    f"SELECT p.node_id, p.epoch, coalesce({ALIVE}, false) FROM station_presence p "
    "LEFT JOIN cluster_nodes n ON n.node_id = p.node_id WHERE p.station_id = %s FOR UPDATE OF p"
)
_TAKE = (
    "INSERT INTO station_presence (station_id, node_id, epoch) "
    "VALUES (%(s)s, %(n)s, nextval('cluster_epochs')) "
    "ON CONFLICT (station_id) DO UPDATE SET node_id = excluded.node_id, "
    "epoch = excluded.epoch, since = now() RETURNING epoch"
)
MAX_CLAIMS = 500
"""Claims in one transaction at most."""
# A batch locks the rows that exist, in one order (the same on every node), and skips
# those locked by another transaction: a dispatch's fencing check (FOR SHARE) in a
# store batch of several stations locks in its own order, so waiting here for such a
# row while holding others could deadlock. Skipped stations are claimed one by one.
_HOLDERS = f"""
WITH alive AS MATERIALIZED (SELECT n.node_id FROM cluster_nodes n WHERE {ALIVE})
SELECT p.station_id, p.node_id, p.epoch, p.node_id IN (SELECT node_id FROM alive)
FROM station_presence p WHERE p.station_id = ANY(%s)
ORDER BY p.station_id FOR UPDATE OF p SKIP LOCKED"""
_EXISTING = "SELECT station_id FROM station_presence WHERE station_id = ANY(%s)"
# New rows in one order too; a row another node inserted meanwhile is updated, and
# reported (``replaced``) so that node hears it was taken over.
_TAKE_MANY = """
INSERT INTO station_presence (station_id, node_id, epoch)
SELECT s, %(n)s, nextval('cluster_epochs')
FROM unnest(%(s)s::text[]) AS s ORDER BY s COLLATE "C"
ON CONFLICT (station_id) DO UPDATE SET node_id = excluded.node_id,
    epoch = excluded.epoch, since = now()
RETURNING station_id, epoch, xmax <> 0"""
_RELEASE = (
    "WITH gone AS (DELETE FROM station_presence WHERE station_id = %(s)s AND epoch = %(e)s) "
    "SELECT pg_notify(%(c)s, %(p)s)"
)


class StationClaims:
    """The claims of one node: batched, each answered with its epoch and the node that
    held the station before, whose release ``handed_over`` waits for."""

    def __init__(self, pool: AsyncConnectionPool[Any], node_id: str, spawn: Spawn) -> None:
        self.node_id = node_id
        self._pool = pool
        self._spawn = spawn
        self._releases: dict[tuple[str, int], asyncio.Event] = {}
        self._pending: list[tuple[str, asyncio.Future[Claim]]] = []
        self._claiming: asyncio.Task[None] | None = None
        self.claim_batches = 0
        """Transactions that claimed stations (a batch each): for tests and metrics."""

    # -- claims ------------------------------------------------------------------

    async def claim(self, station_id: str) -> Claim:
        """Queued for the next batch; one batch runs at a time, and the claims that
        arrive meanwhile go in the next one (no wait when the node is quiet)."""
        future: asyncio.Future[Claim] = asyncio.get_running_loop().create_future()
        self._pending.append((station_id, future))
        if self._claiming is None or self._claiming.done():
            self._claiming = self._spawn(self._claim_batches(), "presence-claims")
        return await future

    async def _claim_batches(self) -> None:
        while self._pending:
            batch: dict[str, asyncio.Future[Claim]] = {}
            later: list[tuple[str, asyncio.Future[Claim]]] = []
            for station_id, future in self._pending:
                if station_id in batch or len(batch) >= MAX_CLAIMS:
                    later.append((station_id, future))  # a second claim: a later epoch
                else:
                    batch[station_id] = future
            self._pending = later
            try:
                claims, skipped = await self._claim_many(sorted(batch))
            except Exception as exc:
                for future in batch.values():
                    if not future.done():
                        future.set_exception(exc)
                continue
            for station_id in skipped:
                self._spawn(self._claim_alone(station_id, batch[station_id]), "presence-claim")
            for claim in claims:
                self._deliver(batch[claim.station_id], claim)

    def _deliver(self, future: asyncio.Future[Claim], claim: Claim) -> None:
        if future.done():  # its connection gave up waiting: let the hold go
            self.released(claim.station_id, claim.epoch)
        else:
            future.set_result(claim)

    async def _claim_alone(self, station_id: str, future: asyncio.Future[Claim]) -> None:
        try:
            claim = await self._claim_one(station_id)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        self._deliver(future, claim)

    async def _claim_many(self, station_ids: list[str]) -> tuple[list[Claim], list[str]]:
        """Take these stations in one transaction; also the stations whose rows another
        transaction had locked, to be claimed one by one."""
        async with self._pool.connection() as conn:
            try:
                # Pipelined, with BEGIN and COMMIT of our own (``conn.transaction()``
                # adds two round trips in a pipeline): BEGIN with the holders and the
                # existing rows go in one round trip, the takeover in a second, the
                # NOTIFYs with COMMIT in a third, where there were four or five; during
                # a reconnect storm on a busy machine each waits its turn for a CPU.
                async with conn.pipeline():
                    await conn.execute("BEGIN")
                    result = await self._claim_in(conn, station_ids)
                    await conn.execute("COMMIT")
            except BaseException:
                # Else the pool rolls it back (or drops a connection left mid-query).
                if conn.info.transaction_status == TransactionStatus.INTRANS or (
                    conn.info.transaction_status == TransactionStatus.INERROR
                ):
                    with contextlib.suppress(Exception):
                        await conn.execute("ROLLBACK")
                raise
        self.claim_batches += 1
        return result

    async def _claim_in(
        self, conn: psycopg.AsyncConnection[Any], station_ids: list[str]
    ) -> tuple[list[Claim], list[str]]:
        """The batch's statements, in its transaction (pipelined)."""
        holders = await conn.execute(_HOLDERS, (station_ids,))
        existing = await conn.execute(_EXISTING, (station_ids,))
        held = {str(s): (str(n), int(e), bool(a)) for s, n, e, a in await holders.fetchall()}
        skipped = [str(s) for (s,) in await existing.fetchall() if str(s) not in held]
        taking = [s for s in station_ids if s not in skipped]
        for station_id, (node, epoch, alive) in held.items():
            if node != self.node_id and alive:
                # Waited for before the takeover is announced: the release may come first.
                self._releases.setdefault((station_id, epoch), asyncio.Event())
        cursor = await conn.execute(_TAKE_MANY, {"s": taking, "n": self.node_id})
        claims: list[Claim] = []
        announce: list[tuple[str, int]] = []
        for station_id, epoch, replaced in await cursor.fetchall():
            station_id, epoch = str(station_id), int(epoch)
            previous = held.get(station_id)
            if previous is None:
                if replaced:  # inserted by another node since we looked
                    announce.append((station_id, epoch))
                claims.append(Claim(station_id, epoch))
                continue
            node, previous_epoch, alive = previous
            if node != self.node_id:
                announce.append((station_id, epoch))
            if node == self.node_id or not alive:
                claims.append(Claim(station_id, epoch, None, previous_epoch))
            else:
                self._forget_release_later((station_id, previous_epoch))
                claims.append(Claim(station_id, epoch, node, previous_epoch))
        for payload in self._taken_notices(announce):
            await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
        return claims, skipped

    def _taken_notices(self, taken: list[tuple[str, int]]) -> list[str]:
        """One notice for the batch, cut in parts that fit a NOTIFY."""
        notices: list[str] = []
        part: list[tuple[str, int]] = []
        size = 0
        for station_id, epoch in taken:
            entry = len(json.dumps([station_id, epoch])) + 1
            if part and size + entry > NOTICE_BYTES:
                notices.append(json.dumps({"k": "taken", "n": self.node_id, "t": part}))
                part, size = [], 0
            part.append((station_id, epoch))
            size += entry
        if part:
            notices.append(json.dumps({"k": "taken", "n": self.node_id, "t": part}))
        return notices

    async def _claim_one(self, station_id: str) -> Claim:
        """A station whose row was locked when its batch ran: alone, it waits for the
        lock without holding another."""
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(_HOLDER, (station_id,))
            held = await cursor.fetchone()
            if held is not None and held[0] != self.node_id and held[2]:
                self._releases.setdefault((station_id, int(held[1])), asyncio.Event())
            cursor = await conn.execute(_TAKE, {"s": station_id, "n": self.node_id})
            row = await cursor.fetchone()
            assert row is not None
            epoch = int(row[0])
            for payload in self._taken_notices([(station_id, epoch)]):
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
        if held is None:
            return Claim(station_id, epoch)
        node, previous_epoch, alive = held
        if node == self.node_id or not alive:
            return Claim(station_id, epoch, None, int(previous_epoch))
        self._forget_release_later((station_id, int(previous_epoch)))
        return Claim(station_id, epoch, str(node), int(previous_epoch))

    def _forget_release_later(self, key: tuple[str, int]) -> None:
        """A claim whose connection never waits (it left at once) must not leave its
        release waiter behind for ever."""
        asyncio.get_running_loop().call_later(60.0, self._releases.pop, key, None)

    async def handed_over(self, claim: Claim, timeout: float) -> bool:
        if claim.previous_node is None or claim.previous_epoch is None:
            return True
        key = (claim.station_id, claim.previous_epoch)
        released = self._releases.setdefault(key, asyncio.Event())
        try:
            await asyncio.wait_for(released.wait(), timeout)
            return True
        except TimeoutError:
            log.warning(
                "node %s did not release station %s within %g s; taking it anyway "
                "(its epoch is fenced)",
                claim.previous_node,
                claim.station_id,
                timeout,
            )
            return False
        finally:
            self._releases.pop(key, None)

    def released(self, station_id: str, epoch: int) -> None:
        self._spawn(self._release(station_id, epoch), f"release-{station_id}")

    async def _release(self, station_id: str, epoch: int) -> None:
        payload = json.dumps({"k": "released", "s": station_id, "e": epoch})
        for attempt in range(5):
            try:
                async with self._pool.connection() as conn:
                    await conn.execute(
                        _RELEASE, {"s": station_id, "e": epoch, "c": CHANNEL, "p": payload}
                    )
                return
            except Exception as exc:
                # The sweep releases it once our lease lapses; a new claim overrides it.
                log.warning("could not release station %s (%r)", station_id, exc)
                await asyncio.sleep(0.2 * 2**attempt)

    def heard_released(self, station_id: str, epoch: int) -> None:
        """The node that held the station announced it released the connection."""
        event = self._releases.get((station_id, epoch))
        if event is not None:
            event.set()
