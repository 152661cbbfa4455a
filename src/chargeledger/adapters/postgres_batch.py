"""Group commit for PostgreSQL: appends that arrive together go in one statement.

Each append to PostgreSQL costs a round trip and a commit; under load most of
the time goes there, not into the work. So appends waiting at the same moment
are sent as one statement (one round trip, one transaction, one WAL flush),
while each keeps its own outcome: a version conflict or a duplicate command id
comes back as a row for that append alone. Two appends to one stream never
share a batch (the second waits for the first), so each version check reads
what it must. Should the batch meet a racing writer on a unique key, nothing of
it was committed, and its appends are tried one by one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import AsyncConnectionPool

from chargeledger.adapters.postgres_database import POSITION_SHIFT
from chargeledger.adapters.serialization import dumps
from chargeledger.application.ports import AppendResult

STALE_EPOCH = "CLF01"
"""SQLSTATE of a dispatch refused for its stale epoch (the trigger in postgres_presence_schema)."""

MAX_BATCH = 256
"""Appends in one statement at most."""

MAX_FLUSHERS = 4
"""Batches in flight at once, each on its own connection."""

# Parameters as JSON: [{k: index, s: stream, x: expected version, c: command id,
# e: [[type, schema version, data], ...], m: metadata, o: outcome, off: offset of the
# append's first event among the batch's}]. The version reads share the statement's
# snapshot, taken before the transaction has an id (see postgres_database).
_APPEND_MANY = f"""
WITH input AS (
    SELECT * FROM jsonb_to_recordset(%(batch)s::jsonb)
        AS t(k int, s text, x int, c text, e jsonb, m jsonb, o jsonb, off int)
), dup AS (
    SELECT i.k, sc.version, sc.first_position, sc.last_position, sc.outcome
    FROM input i JOIN stream_commands sc ON sc.stream_id = i.s AND sc.command_id = i.c
), cur AS (
    SELECT i.k, i.s, i.x, i.c, i.e, i.m, i.o, i.off, jsonb_array_length(i.e) AS n,
           (SELECT coalesce(max(ev.version), 0) FROM events ev WHERE ev.stream_id = i.s) AS v
    FROM input i WHERE NOT EXISTS (SELECT 1 FROM dup WHERE dup.k = i.k)
), go AS (
    SELECT cur.*,
           (SELECT pg_current_xact_id()::text::bigint << {POSITION_SHIFT}) + cur.off AS base
    FROM cur WHERE cur.x = -1 OR cur.v = cur.x
), ins AS (
    INSERT INTO events (position, stream_id, version, type, schema_version, data, metadata)
    SELECT go.base + e.i - 1, go.s, go.v + e.i, e.doc->>0, (e.doc->>1)::int, e.doc->2, go.m
    FROM go, jsonb_array_elements(go.e) WITH ORDINALITY AS e(doc, i)
), cmd AS (
    INSERT INTO stream_commands (stream_id, command_id, version, first_position,
                                 last_position, outcome)
    SELECT go.s, go.c, go.v + go.n, CASE WHEN go.n > 0 THEN go.base END,
           CASE WHEN go.n > 0 THEN go.base + go.n - 1 END, go.o
    FROM go WHERE go.c IS NOT NULL
)
SELECT k, 'duplicate', version, first_position, last_position, outcome FROM dup
UNION ALL
SELECT k, 'appended', go.v + go.n, CASE WHEN go.n > 0 THEN go.base END,
       CASE WHEN go.n > 0 THEN go.base + go.n - 1 END, go.o FROM go
UNION ALL
SELECT k, 'conflict', cur.v, NULL, NULL, NULL FROM cur
WHERE NOT (cur.x = -1 OR cur.v = cur.x)
"""


@dataclass(slots=True)
class PendingAppend:
    """One append waiting for a batch; ``params`` are those of the one-append statement
    (JSON texts already encoded)."""

    stream_id: str
    expected_version: int
    command_id: str | None
    params: dict[str, Any]
    event_count: int
    future: asyncio.Future[AppendResult]


Outcome = tuple[str, int, int | None, int | None, Any]
"""``(status, version, first position, last position, stored outcome)``."""


class AppendBatcher:
    """Collects appends and sends them in batches; ``alone`` runs one append by itself
    (for a batch of one, and to sort out a batch that met a racing writer)."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        alone: Callable[[PendingAppend], Awaitable[AppendResult]],
        to_result: Callable[[PendingAppend, Outcome], AppendResult],
    ) -> None:
        self._pool = pool
        self._alone = alone
        self._to_result = to_result
        self._queue: deque[PendingAppend] = deque()
        self._busy_streams: set[str] = set()
        self._flushers = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        """Statements sent for more than one append (to see batching work)."""

    async def submit(self, pending: PendingAppend) -> AppendResult:
        self._queue.append(pending)
        if self._flushers < MAX_FLUSHERS:
            # Counted now and uncounted in the same step as it finds nothing left to
            # take, so an append never waits on a flusher that is already leaving.
            self._flushers += 1
            task = asyncio.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await pending.future

    def _take(self) -> list[PendingAppend]:
        """The next batch: queued appends in order, one per stream, none of a stream
        that a batch in flight already holds."""
        batch: list[PendingAppend] = []
        streams: set[str] = set()
        events = 0
        deferred: deque[PendingAppend] = deque()
        while self._queue and len(batch) < MAX_BATCH:
            pending = self._queue.popleft()
            if (
                pending.stream_id in streams
                or pending.stream_id in self._busy_streams
                # A transaction's events must fit below the next transaction's positions.
                or (batch and events + pending.event_count > 1 << POSITION_SHIFT)
            ):
                deferred.append(pending)
            else:
                batch.append(pending)
                streams.add(pending.stream_id)
                events += pending.event_count
        deferred.extend(self._queue)
        self._queue = deferred
        return batch

    async def _flush(self) -> None:
        try:
            while batch := self._take():
                streams = {p.stream_id for p in batch}
                self._busy_streams |= streams
                try:
                    await self._run(batch)
                finally:
                    self._busy_streams -= streams
        finally:
            self._flushers -= 1

    async def _run(self, batch: list[PendingAppend]) -> None:
        if len(batch) == 1:
            await self._settle_alone(batch[0])
            return
        try:
            outcomes = await self._together(batch)
        except psycopg.Error as exc:
            if not isinstance(exc, errors.UniqueViolation) and exc.sqlstate != STALE_EPOCH:
                for pending in batch:
                    _settle(pending, None, exc)
                return
            # A writer elsewhere won a key first, or one append carried a fenced epoch
            # (postgres_presence_schema); nothing here committed. One by one, each append
            # meets the race on its own and learns its own outcome.
            for pending in batch:
                await self._settle_alone(pending)
            return
        except Exception as exc:
            for pending in batch:
                _settle(pending, None, exc)
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            try:
                result = self._to_result(pending, outcome)
            except Exception as exc:
                _settle(pending, None, exc)
            else:
                _settle(pending, result, None)

    async def _settle_alone(self, pending: PendingAppend) -> None:
        try:
            result = await self._alone(pending)
        except Exception as exc:
            _settle(pending, None, exc)
        else:
            _settle(pending, result, None)

    async def _together(self, batch: list[PendingAppend]) -> list[Outcome]:
        items = []
        offset = 0
        for index, pending in enumerate(batch):
            p = pending.params
            items.append(
                f'{{"k":{index},"s":{dumps(p["s"])},"x":{p["x"]},"c":{dumps(p["c"])},'
                f'"e":{p["e"]},"m":{p["m"]},"o":{p["o"] or "null"},"off":{offset}}}'
            )
            offset += pending.event_count
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                _APPEND_MANY, {"batch": f"[{','.join(items)}]"}, prepare=True
            )
            rows = await cursor.fetchall()
        self.batches += 1
        outcomes: list[Outcome | None] = [None] * len(batch)
        for k, *outcome in rows:
            outcomes[k] = tuple(outcome)
        assert all(o is not None for o in outcomes), "every append has an outcome"
        return outcomes  # type: ignore[return-value]


def _settle(pending: PendingAppend, result: AppendResult | None, error: Exception | None) -> None:
    if pending.future.done():
        return  # its caller was cancelled
    if error is not None:
        pending.future.set_exception(error)
    else:
        assert result is not None
        pending.future.set_result(result)
