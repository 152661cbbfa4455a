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
- Claims are batched: the claims that arrive while one transaction runs go in
  the next one (row locks taken in one order, one NOTIFY for the batch, and only
  for stations another node held), so a connect flood costs a few transactions a
  second, not one per station with a NOTIFY each serialized at commit.
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

from chargeledger.adapters.postgres_database import PostgresDatabase
from chargeledger.adapters.postgres_lease import LeaseThread
from chargeledger.application.outgoing_commands import OutgoingCommand
from chargeledger.application.presence import Claim, Fence

log = logging.getLogger(__name__)

CHANNEL = "chargeledger_presence"
STALE_EPOCH_SQLSTATE = "CLF01"
FENCE_ALL = 1 << 62
"""An epoch above every real one: fences whatever connection a station has here."""
_SCHEMA_LOCK = 0x63686172676502  # "charge" + 2: not the store's migration lock

SCHEMA = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'cluster_epochs') THEN
        -- Start above the clock-seeded epochs a single node left in the twins.
        EXECUTE format('CREATE SEQUENCE cluster_epochs START %s',
                       (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
    END IF;
END $$;
CREATE SEQUENCE IF NOT EXISTS cluster_node_keys;
CREATE TABLE IF NOT EXISTS cluster_nodes (
    node_id TEXT COLLATE "C" PRIMARY KEY,
    lease_until TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lock_key BIGINT NOT NULL DEFAULT nextval('cluster_node_keys')
);
CREATE TABLE IF NOT EXISTS station_presence (
    station_id TEXT COLLATE "C" PRIMARY KEY,
    node_id TEXT COLLATE "C" NOT NULL,
    epoch BIGINT NOT NULL,
    since TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS station_presence_by_node ON station_presence (node_id);
CREATE SEQUENCE IF NOT EXISTS cluster_leader_terms;
CREATE TABLE IF NOT EXISTS cluster_leader (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    term BIGINT NOT NULL,
    node_id TEXT COLLATE "C" NOT NULL,
    since TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION cluster_fence_dispatch() RETURNS trigger AS $$
DECLARE current_epoch BIGINT;
BEGIN
    -- FOR SHARE: a takeover (UPDATE of the row) waits for this insert's transaction,
    -- or this insert waits for the takeover and then sees its epoch.
    SELECT epoch INTO current_epoch FROM station_presence
        WHERE station_id = substr(NEW.stream_id, 9) FOR SHARE;
    IF current_epoch IS DISTINCT FROM (NEW.data->>'connection_epoch')::BIGINT THEN
        RAISE EXCEPTION 'stale connection epoch % for %: the station is held under epoch %',
            NEW.data->>'connection_epoch', NEW.stream_id, current_epoch
            USING ERRCODE = '{STALE_EPOCH_SQLSTATE}';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS cluster_fence_dispatch ON events;
CREATE TRIGGER cluster_fence_dispatch BEFORE INSERT ON events FOR EACH ROW
    WHEN (NEW.type = 'CommandDispatched') EXECUTE FUNCTION cluster_fence_dispatch();

CREATE OR REPLACE FUNCTION cluster_fence_twin() RETURNS trigger AS $$
BEGIN
    IF coalesce((OLD.doc->>'connection_epoch')::BIGINT, 0)
       > coalesce((NEW.doc->>'connection_epoch')::BIGINT, 0) THEN
        RETURN NULL;  -- a node that lost the station writes nothing over its holder
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS cluster_fence_twin ON documents;
CREATE TRIGGER cluster_fence_twin BEFORE UPDATE ON documents FOR EACH ROW
    WHEN (NEW.model = 'twin') EXECUTE FUNCTION cluster_fence_twin();
"""

_JOIN = (
    "INSERT INTO cluster_nodes (node_id, lease_until) "
    "VALUES (%(n)s, now() + make_interval(secs => %(l)s)) "
    "ON CONFLICT (node_id) DO UPDATE SET lease_until = excluded.lease_until RETURNING lock_key"
)
LIVENESS_CLASS = 0x6368
"""A live node holds the session advisory lock (LIVENESS_CLASS << 32 | its lock_key) on
its listening connection: PostgreSQL drops it the moment the node's process dies, so
the others need not wait out the lease of a node that was killed."""
_ALIVE = f"""(n.lease_until > now() AND EXISTS (
    SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
    AND l.classid = {LIVENESS_CLASS} AND l.objid = n.lock_key AND l.objsubid = 1))"""
_HOLDER = (
    f"SELECT p.node_id, p.epoch, coalesce({_ALIVE}, false) FROM station_presence p "
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
_NOTICE_BYTES = 7000
"""A NOTIFY's payload must stay under 8,000 bytes: a batch's notice is cut in parts."""
# A batch locks the rows that exist, in one order (the same on every node), and skips
# those locked by another transaction: a dispatch's fencing check (FOR SHARE) in a
# store batch of several stations locks in its own order, so waiting here for such a
# row while holding others could deadlock. Skipped stations are claimed one by one.
_HOLDERS = f"""
WITH alive AS MATERIALIZED (SELECT n.node_id FROM cluster_nodes n WHERE {_ALIVE})
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
""".replace("{alive}", _ALIVE)


async def install_schema(conn: psycopg.AsyncConnection[Any]) -> None:
    """Create the registry and the fencing triggers (idempotent, nodes may race)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        await conn.execute(SCHEMA.encode())


class PostgresPresence:
    """Implements the ``Presence`` port on PostgreSQL, and the node's lease."""

    def __init__(self, database: PostgresDatabase, node_id: str, lease_s: float = 10.0) -> None:
        self.node_id = node_id
        self.lease_s = lease_s
        self.database = database
        self.conninfo = database.conninfo
        self._pool = database.pool
        self._fences: list[Fence] = []
        self._lost: list[Callable[[], None]] = []
        self._held_here: Callable[[], dict[str, int]] = dict
        self._releases: dict[tuple[str, int], asyncio.Event] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listening = asyncio.Event()
        self._lease = LeaseThread(self.conninfo, node_id, lease_s)
        self._lock_key = 0
        self._pending: list[tuple[str, asyncio.Future[Claim]]] = []
        self._claiming: asyncio.Task[None] | None = None
        self._routed: list[Callable[[OutgoingCommand], None]] = []
        self._routes: list[str] = []
        self._routing: asyncio.Task[None] | None = None
        self.claim_batches = 0
        """Transactions that claimed stations (a batch each): for tests and metrics."""

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
        self._routed.append(callback)

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
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(_HOLDERS, (station_ids,))
            held = {str(s): (str(n), int(e), bool(a)) for s, n, e, a in await cursor.fetchall()}
            skipped: list[str] = []
            if len(held) < len(station_ids):
                cursor = await conn.execute(_EXISTING, (station_ids,))
                skipped = [str(s) for (s,) in await cursor.fetchall() if str(s) not in held]
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
        self.claim_batches += 1
        return claims, skipped

    def _taken_notices(self, taken: list[tuple[str, int]]) -> list[str]:
        """One notice for the batch, cut in parts that fit a NOTIFY."""
        notices: list[str] = []
        part: list[tuple[str, int]] = []
        size = 0
        for station_id, epoch in taken:
            entry = len(json.dumps([station_id, epoch])) + 1
            if part and size + entry > _NOTICE_BYTES:
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
                f"WHERE p.station_id = %s AND p.node_id <> %s AND {_ALIVE}",
                (station_id, self.node_id),
            )
            return await cursor.fetchone() is not None

    # -- routing -----------------------------------------------------------------

    def route(self, command: OutgoingCommand) -> None:
        """Tell the cluster of a command committed here for a station held elsewhere,
        with its view, so its holder queues it without reading the log (which waits
        for every older transaction on the server). Only a speed-up: the holder's log
        follower delivers it anyway, so a notice too big for a NOTIFY or lost in a
        reconnection costs time, not the command; its dispatch is recorded once
        under the holder's epoch (I3, I8). Does not block; sent in batches."""
        try:
            payload = json.dumps({"k": "command", "n": self.node_id, "d": command.as_view()})
        except (TypeError, ValueError):
            return
        if len(payload.encode()) > _NOTICE_BYTES:
            return
        self._routes.append(payload)
        if self._routing is None or self._routing.done():
            self._routing = self._spawn(self._send_routes(), "presence-routes")

    async def _send_routes(self) -> None:
        while self._routes:
            payloads, self._routes = self._routes, []
            try:
                async with self._pool.connection() as conn:
                    await conn.execute(
                        "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (CHANNEL, payloads)
                    )
            except Exception as exc:
                log.warning(
                    "could not route %d commands (%r); the log delivers them", len(payloads), exc
                )

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
                    self._take_routed(notice["d"])
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
            event = self._releases.get((station_id, epoch))
            if event is not None:
                event.set()

    def _take_routed(self, doc: Any) -> None:
        command = OutgoingCommand.from_view(doc) if isinstance(doc, dict) else None
        if command is None:
            return  # the log follower delivers it
        for routed in self._routed:
            try:
                routed(command)
            except Exception:
                # The log follower delivers it anyway; the listener must go on.
                log.exception("a routed command could not be queued")

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
