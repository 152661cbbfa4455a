"""``PostgresEventStore``: the shared event log of several nodes on one database (the
documents beside it are ``postgres_documents.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors

from chargeledger.adapters.notifier import follow
from chargeledger.adapters.postgres_batch import AppendBatcher, PendingAppend
from chargeledger.adapters.postgres_database import CHANNEL, POSITION_SHIFT, PostgresDatabase
from chargeledger.adapters.postgres_presence_schema import STALE_EPOCH_SQLSTATE
from chargeledger.adapters.postgres_stream_reads import StreamReadBatcher
from chargeledger.adapters.serialization import (
    EventCodec,
    RecentlyDecoded,
    check_append,
    decode_outcome,
    dumps,
    encode_metadata,
    encode_outcome,
)
from chargeledger.application.ports import (
    ANY,
    AppendResult,
    Clock,
    InvalidAppendError,
    Metadata,
    RecordedEvent,
    VersionConflictError,
)
from chargeledger.application.presence import StaleEpochError
from chargeledger.domain.events import Event

# One statement, one round trip per append. Every part reads the statement's snapshot,
# taken before the transaction gets its id, so a later version always gets a later
# position. Conflicts come back as a row (no exception, no subtransaction); a racing
# writer that committed meanwhile meets the unique keys, and the client sorts out
# which key it was. Parameters: s stream, x expected version, c command id,
# e events as [[type, schema version, data], ...], m metadata, o outcome.
_APPEND = f"""
WITH dup AS (
    SELECT version, first_position, last_position, outcome FROM stream_commands
    WHERE %(c)s::text IS NOT NULL AND stream_id = %(s)s AND command_id = %(c)s
), cur AS (
    SELECT coalesce(max(version), 0) AS v FROM events WHERE stream_id = %(s)s
), go AS (
    SELECT cur.v, pg_current_xact_id()::text::bigint << {POSITION_SHIFT} AS base,
           jsonb_array_length(%(e)s::jsonb) AS n
    FROM cur WHERE NOT EXISTS (SELECT 1 FROM dup) AND (%(x)s = -1 OR cur.v = %(x)s)
), ins AS (
    INSERT INTO events (position, stream_id, version, type, schema_version, data, metadata)
    SELECT go.base + e.i - 1, %(s)s, go.v + e.i, e.doc->>0, (e.doc->>1)::int, e.doc->2,
           %(m)s::jsonb
    FROM go, jsonb_array_elements(%(e)s::jsonb) WITH ORDINALITY AS e(doc, i)
), cmd AS (
    INSERT INTO stream_commands (stream_id, command_id, version, first_position,
                                 last_position, outcome)
    SELECT %(s)s, %(c)s, go.v + go.n, CASE WHEN go.n > 0 THEN go.base END,
           CASE WHEN go.n > 0 THEN go.base + go.n - 1 END, %(o)s::jsonb
    FROM go WHERE %(c)s::text IS NOT NULL
)
SELECT 'duplicate', version, first_position, last_position, outcome FROM dup
UNION ALL
SELECT 'appended', go.v + go.n, CASE WHEN go.n > 0 THEN go.base END,
       CASE WHEN go.n > 0 THEN go.base + go.n - 1 END, %(o)s::jsonb FROM go
UNION ALL
SELECT 'conflict', cur.v, NULL, NULL, NULL FROM cur
WHERE NOT EXISTS (SELECT 1 FROM dup) AND NOT (%(x)s = -1 OR cur.v = %(x)s)
"""
_SELECT_EVENTS = (
    "SELECT position, stream_id, version, type, schema_version, data, metadata FROM events "
)
# Everything below the oldest transaction still running in this database has committed
# or never will. Transaction ids are the server's, shared by all its databases, so a
# transaction open in another database (another application's, a pg_dump) would hold
# the bound back as long as it runs: an id the snapshot sees running that is running
# in another database now is passed over. An id whose transaction has ended since the
# snapshot is kept (it may be ours, committed after the snapshot), which only holds
# the bound back until the next read.
_VISIBLE_BOUND = f"""(SELECT coalesce(
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE x::text::bigint %% 4294967296 NOT IN (
         SELECT backend_xid::text::bigint FROM pg_stat_activity
         WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())),
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint) << {POSITION_SHIFT})"""
_READ_ALL = (
    _SELECT_EVENTS
    + f"WHERE position > %s AND position < {_VISIBLE_BOUND} ORDER BY position LIMIT %s"
)
_HEAD = f"SELECT COALESCE(MAX(position), 0) FROM events WHERE position < {_VISIBLE_BOUND}"
_FIND_COMMAND = (
    "SELECT version, first_position, last_position, outcome FROM stream_commands "
    "WHERE stream_id = %s AND command_id = %s"
)
_ANY_RETRIES = 20


class PostgresEventStore:
    """The shared event store. Positions increase in commit-safe order but are not dense:
    each is (writing transaction id << 16) + the event's index within its transaction."""

    def __init__(
        self,
        database: PostgresDatabase,
        codec: EventCodec,
        clock: Clock,
    ) -> None:
        """``clock`` stamps ``recorded_at`` on metadata that arrives without one."""
        self._db = database
        self._codec = codec
        self._clock = clock
        self._decoded = RecentlyDecoded()
        self._notifier = database.notifier
        self._batcher = AppendBatcher(database.pool, self._append_alone, self._to_result)
        self._stream_reads = StreamReadBatcher(database.pool)
        self._head_poll: asyncio.Future[int] | None = None

    @property
    def database(self) -> PostgresDatabase:
        """The pool and listener this store shares with the documents (and the cluster)."""
        return self._db

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Mapping[str, Any] | None = None,
    ) -> AppendResult:
        params = self._params(stream_id, events, expected_version, metadata, outcome)
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        pending = PendingAppend(
            stream_id, expected_version, metadata.command_id, params, len(events), future
        )
        result = await self._batcher.submit(pending)
        if result.last_position is not None and not result.duplicate:
            await self._announce(result.last_position)
        return result

    async def _append_alone(self, pending: PendingAppend) -> AppendResult:
        for _ in range(_ANY_RETRIES):
            result: AppendResult | None
            try:
                async with self._db.pool.connection() as conn:
                    cursor = await conn.execute(_APPEND, pending.params, prepare=True)
                    row = await cursor.fetchone()
                assert row is not None
                result = self._to_result(pending, row)
            except errors.UniqueViolation as exc:
                result = await self._after_race(pending, exc)
            except psycopg.Error as exc:
                if exc.sqlstate == STALE_EPOCH_SQLSTATE:
                    raise StaleEpochError(str(exc.diag.message_primary or exc)) from None
                raise
            if result is not None:
                return result
            # An ANY append lost a race for the next version: go again.
        raise VersionConflictError(
            pending.stream_id, pending.expected_version, await self._version(pending.stream_id)
        )

    def _to_result(self, pending: PendingAppend, row: Sequence[Any]) -> AppendResult:
        status, version, first_position, last_position, stored_outcome = row
        if status == "conflict":
            raise VersionConflictError(pending.stream_id, pending.expected_version, version)
        return AppendResult(
            pending.stream_id,
            version,
            first_position,
            last_position,
            duplicate=status == "duplicate",
            outcome=decode_outcome(stored_outcome),
        )

    def _params(
        self,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        check_append(stream_id, expected_version, events)
        # The data is JSON already: splice it in rather than parse and dump it again.
        encoded = ",".join(
            f"[{dumps(type_name)},{schema_version},{data}]"
            for type_name, schema_version, data in map(self._codec.encode, events)
        )
        return {
            "s": stream_id,
            "x": expected_version,
            "c": metadata.command_id,
            "e": f"[{encoded}]",
            "m": encode_metadata(metadata, self._clock.now().isoformat()),
            "o": encode_outcome(outcome),
        }

    async def _after_race(
        self, pending: PendingAppend, exc: errors.UniqueViolation
    ) -> AppendResult | None:
        """A racing writer committed first: the same command (a duplicate), or the same
        version (a conflict; for ``ANY``, ``None`` says try again)."""
        if exc.diag.constraint_name == "events_pkey":
            raise InvalidAppendError(
                "two appends in one transaction; give each append its own transaction"
            ) from exc
        if pending.command_id is not None:
            first = await self.find_command(pending.stream_id, pending.command_id)
            if first is not None:
                return first
        if pending.expected_version == ANY:
            return None
        raise VersionConflictError(
            pending.stream_id, pending.expected_version, await self._version(pending.stream_id)
        ) from exc

    async def _announce(self, last_position: int) -> None:
        """Wake this process's subscribers now and other processes' through NOTIFY."""
        self._notifier.advance(last_position)
        self._db.announce(last_position)

    async def _version(self, stream_id: str) -> int:
        async with self._db.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = %s", (stream_id,)
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        if to_version is None:  # a load: batched with the loads arriving with it
            rows = await self._stream_reads.read(stream_id, from_version)
            return [self._decode(row) for row in rows]
        last = to_version
        rows = await self._fetch(
            _SELECT_EVENTS
            + "WHERE stream_id = %s AND version >= %s AND version <= %s ORDER BY version",
            (stream_id, from_version, last),
        )
        return [self._decode(row) for row in rows]

    async def read_all(self, after_position: int, limit: int = 1000) -> list[RecordedEvent]:
        rows = await self._fetch(_READ_ALL, (after_position, limit))
        return [self._decode(row) for row in rows]

    async def head_position(self) -> int:
        rows = await self._fetch(_HEAD, ())
        return int(rows[0][0])

    async def find_command(self, stream_id: str, command_id: str) -> AppendResult | None:
        rows = await self._fetch(_FIND_COMMAND, (stream_id, command_id))
        if not rows:
            return None
        version, first_position, last_position, outcome = rows[0]
        return AppendResult(
            stream_id, version, first_position, last_position, True, decode_outcome(outcome)
        )

    async def wait_for_events(self, after_position: int, timeout: float) -> None:
        """Wake-ups name a position that may not be readable yet (an older transaction is
        still open); then look again shortly, until it is or the time is up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self._notifier.wait(after_position, timeout)
        pause = 0.002
        while self._notifier.head > after_position:
            if await self._shared_head() > after_position:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.1)

    async def _shared_head(self) -> int:
        """The readable head for the followers of the log: one wake-up sets them all
        looking at once (the dispatcher, the projections, the telemetry, the twins), and
        they share one query instead of each sending its own. A follower may get an
        answer asked for a moment before it came, which only makes it look again."""
        if self._head_poll is None or self._head_poll.done():
            self._head_poll = asyncio.ensure_future(self.head_position())
            self._head_poll.add_done_callback(_retrieved)
        return await asyncio.shield(self._head_poll)

    def subscribe(
        self, after_position: int, page_size: int = 500, safety_poll_s: float = 1.0
    ) -> AsyncIterator[list[RecordedEvent]]:
        return follow(self, after_position, page_size, safety_poll_s)

    async def close(self) -> None:
        await self._db.close()

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        async with self._db.pool.connection() as conn:
            cursor = await conn.execute(sql, params, prepare=True)
            return await cursor.fetchall()

    def _decode(self, row: tuple[Any, ...]) -> RecordedEvent:
        return self._decoded.decode(row, self._codec)


def _retrieved(future: asyncio.Future[int]) -> None:
    """A shared query's failure reaches each follower that waits for it; this keeps
    one that no follower waited for any more from being logged as never retrieved."""
    if not future.cancelled():
        future.exception()


__all__ = ["CHANNEL", "PostgresEventStore"]
