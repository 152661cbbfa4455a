"""The connection registry of a cluster on PostgreSQL: which node holds each station,
under which epoch, and which nodes are alive (I8 across nodes).

- Epochs come from one sequence (``cluster_epochs``), never from a clock: a new
  connection anywhere takes a higher epoch than every earlier one.
- ``station_presence`` holds one row per connected station: its node and epoch.
  Taking a station over updates the row under its lock and NOTIFYs the cluster
  (channel ``chargeledger_presence``); the node that held it fences its
  connection, closes it in its own task and NOTIFYs that it released it, which
  the new holder waits for (bounded) before it answers the station's ``101``.
- Fencing is in the database, so a node that has not heard yet is refused too:
  a ``CommandDispatched`` whose epoch is not the station's current one cannot be
  inserted (SQLSTATE ``CLF01``, the store raises ``StaleEpochError``), and a
  twin document is never overwritten by one of a lower epoch.
- Claims are batched and handed over (``adapters/postgres_claims.py``); the tables,
  triggers and channel are ``adapters/postgres_presence_schema.py``.
- Each node renews a lease (``cluster_nodes.lease_until``, the database's clock
  only) from a thread of its own that a busy event loop cannot delay, but that
  renews only while the loop beats (``adapters/postgres_lease.py``). Rows of a
  node whose lease lapsed are swept by any node, and its stations shown
  disconnected. A node that could not renew within its lease
  drops its own connections, so its stations come back elsewhere or to it with
  new epochs; from its first failed renewal it records no dispatch (``may_send``).
  A sweep is announced, and a node that comes back compares what it holds with
  the registry (``_fence_missed``), so a connection whose row was swept while its
  node could not hear is fenced, not left refused at every dispatch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg

from chargeledger.adapters.postgres_claims import StationClaims
from chargeledger.adapters.postgres_database import PostgresDatabase
from chargeledger.adapters.postgres_lease import LeaseThread
from chargeledger.adapters.postgres_presence_schema import (
    ALIVE,
    CHANNEL,
    LIVENESS_CLASS,
    install_schema,
)
from chargeledger.adapters.postgres_routing import CommandRoutes
from chargeledger.application.outgoing_commands import OutgoingCommand
from chargeledger.application.presence import Claim, Fence

log = logging.getLogger(__name__)

FENCE_ALL = 1 << 62
"""An epoch above every real one: fences whatever connection a station has here."""

_JOIN = (
    "INSERT INTO cluster_nodes (node_id, lease_until) "
    "VALUES (%(n)s, now() + make_interval(secs => %(l)s)) "
    "ON CONFLICT (node_id) DO UPDATE SET lease_until = excluded.lease_until RETURNING lock_key"
)
# Stations of nodes whose lease lapsed (or that never had one): not held any more, and
# shown disconnected unless a newer connection already wrote their twin.
SWEEP = """
WITH dead AS (
    DELETE FROM station_presence p WHERE NOT EXISTS (
        SELECT 1 FROM cluster_nodes n WHERE n.node_id = p.node_id AND {alive})
    RETURNING station_id, epoch
), shown AS (
    UPDATE documents d SET doc = jsonb_set(d.doc, '{connected}', 'false')
    FROM dead WHERE d.model = 'twin' AND d.key = dead.station_id
        AND coalesce((d.doc->>'connection_epoch')::BIGINT, 0) <= dead.epoch
    RETURNING d.key
)
SELECT (SELECT count(*) FROM dead), (SELECT count(*) FROM shown)
""".replace("{alive}", ALIVE)


class PostgresPresence:
    """Implements the ``Presence`` port on PostgreSQL, and the node's lease."""

    def __init__(self, database: PostgresDatabase, node_id: str, lease_s: float) -> None:
        self.node_id = node_id
        self.lease_s = lease_s
        self.database = database
        self.conninfo = database.conninfo
        self._pool = database.pool
        self._fences: list[Fence] = []
        self._lost: list[Callable[[], None]] = []
        self._held_here: Callable[[], dict[str, int]] = dict
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listening = asyncio.Event()
        self._lease = LeaseThread(self.conninfo, node_id, lease_s)
        self._lock_key = 0
        self._claims = StationClaims(self._pool, node_id, self._spawn)
        self._commands = CommandRoutes(self._pool, node_id, self._spawn)

    @property
    def claim_batches(self) -> int:
        """Transactions that claimed stations (a batch each): for tests and metrics."""
        return self._claims.claim_batches

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Install the schema, take the first lease, and listen (before any claim)."""
        async with self._pool.connection() as conn:
            await install_schema(conn)
        await self.join()
        self._lease.start()
        self._spawn(self._listen(), "presence-listen")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 10.0)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._lease.stop)

    def on_fence(self, fence: Fence) -> None:
        self._fences.append(fence)

    def holding(self, held_here: Callable[[], dict[str, int]]) -> None:
        """How to learn the stations connected here and their epochs, to fence those
        taken over while this node was not listening."""
        self._held_here = held_here

    def on_routed(self, callback: Callable[[OutgoingCommand], None]) -> None:
        """What to call with a command another node routed to the station's holder."""
        self._commands.on_routed(callback)

    def on_lease_lost(self, callback: Callable[[], None]) -> None:
        """What to call when this node could not renew its lease in time."""
        self._lost.append(callback)

    # -- the lease ---------------------------------------------------------------

    @property
    def last_error(self) -> str:
        return self._lease.last_error

    async def join(self) -> None:
        """Take (or take again, after a lapse) a lease, on a connection of its own: a
        pool busy with the node's work would make it wait its turn."""
        sent = time.monotonic()
        async with await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, connect_timeout=max(1, int(self.lease_s / 3))
        ) as conn:
            cursor = await asyncio.wait_for(
                conn.execute(_JOIN, {"n": self.node_id, "l": self.lease_s}), self.lease_s
            )
            row = await cursor.fetchone()
        assert row is not None
        self._lock_key = int(row[0])
        self._lease.joined(sent)

    def may_send(self) -> bool:
        """Whether this node may record a dispatch and send a CALL: its last renewal
        went through and its lease runs. From the first failed renewal on it may not:
        the others may soon take its stations, and it could not record the answer."""
        return not self._lease.failed and self.lease_held()

    def lease_held(self) -> bool:
        """Renewed within the lease time, as this node's own clock measures it from
        the moment the renewal was sent (the database's lease ends no sooner)."""
        renewed_at = self._lease.renewed_at
        if renewed_at is None or self._lease.rejected:
            return False
        return time.monotonic() - renewed_at < self.lease_s

    async def keep_lease(self, beat_s: float = 0.25) -> None:
        """The event loop's side of the lease (a supervised worker): beat, so the lease
        thread knows the loop runs; drop this node's connections once when the lease
        lapses (PostgreSQL unreachable, the loop too slow, or the database refused a
        renewal), join again after a refusal, and fence what was taken meanwhile."""
        lease = self._lease
        lease.start()
        loop = asyncio.get_running_loop()
        beating: asyncio.TimerHandle | None = None

        def beat() -> None:
            # A plain callback, not a task: a loop that lags beats after one turn.
            nonlocal beating
            lease.beat()
            beating = loop.call_later(beat_s, beat)

        beat()
        try:
            await self._watch_lease(beat_s)
        finally:
            if beating is not None:
                beating.cancel()

    async def _watch_lease(self, every_s: float) -> None:
        lease = self._lease
        lapsed = not self.lease_held()
        failed = lease.failed
        while True:
            if not lease.alive():
                lease.start()  # it died of a bug: logged by threading; try again
            if not lapsed and not self.lease_held():
                lapsed = True
                log.error("lease of node %s lapsed; dropping its stations", self.node_id)
                for callback in self._lost:
                    callback()
            if lease.rejected and lapsed:
                try:
                    await self.join()
                except Exception as exc:
                    log.warning("cannot join the cluster again: %r", exc)
            if lapsed and self.lease_held():
                lapsed = False
            if failed and not lease.failed:
                # Others may have swept our stations while we could not answer.
                with contextlib.suppress(Exception):
                    await self._fence_missed()
            failed = lease.failed
            await asyncio.sleep(every_s)

    async def sweep(self) -> tuple[int, int]:
        """Release the stations of nodes whose lease lapsed; (rows, twins) changed.
        Safe on every node at once: each row is deleted once."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(SWEEP)
            row = await cursor.fetchone()
        assert row is not None
        if row[0]:
            log.warning("released %d stations of nodes whose lease lapsed", row[0])
            with contextlib.suppress(Exception):
                async with self._pool.connection() as conn:
                    # A node that was only slow hears it, and fences what it lost.
                    payload = json.dumps({"k": "swept", "s": "", "e": 0, "n": self.node_id})
                    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
        return int(row[0]), int(row[1])

    async def run_sweeper(self, every_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            await self.sweep()

    # -- claims ------------------------------------------------------------------
    async def claim(self, station_id: str) -> Claim:
        return await self._claims.claim(station_id)

    async def handed_over(self, claim: Claim, timeout: float) -> bool:
        return await self._claims.handed_over(claim, timeout)

    def released(self, station_id: str, epoch: int) -> None:
        self._claims.released(station_id, epoch)

    async def holders(self, station_ids: list[str]) -> dict[str, int]:
        """The current epoch of each of these stations that a connection holds."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT station_id, epoch FROM station_presence WHERE station_id = ANY(%s)",
                (station_ids,),
            )
            return {str(s): int(e) for s, e in await cursor.fetchall()}

    async def held_elsewhere(self, station_id: str) -> bool:
        """Whether another live node holds the station now."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT 1 FROM station_presence p JOIN cluster_nodes n USING (node_id) "
                f"WHERE p.station_id = %s AND p.node_id <> %s AND {ALIVE}",
                (station_id, self.node_id),
            )
            return await cursor.fetchone() is not None

    # -- routing -----------------------------------------------------------------

    def route(self, command: OutgoingCommand) -> None:
        """Tell the cluster of a command committed here for a station held elsewhere
        (``CommandRoutes.route``: a speed-up; the holder's log follower delivers it)."""
        self._commands.route(command)

    # -- notices -----------------------------------------------------------------

    def listening(self) -> bool:
        return self._listening.is_set()

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    await conn.execute(
                        "SELECT pg_try_advisory_lock(%s)",
                        ((LIVENESS_CLASS << 32) | self._lock_key,),
                    )
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    delay = 0.1
                    await self._fence_missed()
                    async for notice in conn.notifies():
                        self._notice(notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listening for takeovers failed (%s); reconnecting", exc)
            self._listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _fence_missed(self) -> None:
        """Takeovers announced while we were not listening: fence them now."""
        here = self._held_here()
        if not here:
            return
        current = await self.holders(list(here))
        for station_id, epoch in here.items():
            newer = current.get(station_id, FENCE_ALL)
            if newer != epoch:
                for fence in self._fences:
                    fence(station_id, max(newer, epoch + 1))

    def _notice(self, payload: str) -> None:
        try:
            notice = json.loads(payload)
            kind = notice["k"]
            if kind == "command":
                if notice.get("n") != self.node_id:
                    self._commands.take_routed(notice["d"])
                return
            if kind == "taken":
                taken = [(str(s), int(e)) for s, e in notice["t"]]
            elif kind != "swept":
                station_id, epoch = str(notice["s"]), int(notice["e"])
        except (ValueError, KeyError, TypeError):
            return
        if kind == "swept":
            self._spawn(self._fence_missed(), "presence-swept")
        elif kind == "taken":
            if notice.get("n") == self.node_id:
                return  # our own claims: the gateway took the older connections over itself
            for station_id, epoch in taken:
                for fence in self._fences:
                    fence(station_id, epoch)
        elif kind == "released":
            self._claims.heard_released(station_id, epoch)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
