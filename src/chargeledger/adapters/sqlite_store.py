"""``SQLiteEventStore``: the embedded default event log (the documents beside it are
``sqlite_documents.py``)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chargeledger.adapters.notifier import HeadNotifier, follow
from chargeledger.adapters.serialization import (
    EventCodec,
    RecentlyDecoded,
    check_append,
    decode_metadata,
    decode_outcome,
    encode_metadata,
    encode_outcome,
)
from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.application.ports import (
    ANY,
    AppendResult,
    Clock,
    CommandAlreadyRecordedError,
    CommandAppend,
    Metadata,
    RecordedEvent,
    VersionConflictError,
)
from chargeledger.domain.events import Event

_LAST_VERSION = 2**63 - 1
"""No stream is longer: ``read_stream`` without ``to_version`` reads to the end."""

_SELECT_EVENTS = (
    "SELECT position, stream_id, version, type, schema_version, data, metadata FROM events "
)
_READ_ALL = _SELECT_EVENTS + "WHERE position > ? ORDER BY position LIMIT ?"
_READ_NOW_EVENTS = 32
"""Events ``read_all`` reads on the event loop's thread before it hands the rest of a
page to a reader thread."""


class SQLiteEventStore:
    """The embedded event store. Positions are dense (1, 2, 3, ...) and commit in order,
    since the file has one writer at a time."""

    def __init__(self, database: SQLiteDatabase, codec: EventCodec, clock: Clock) -> None:
        """``clock`` stamps ``recorded_at`` on metadata that arrives without one."""
        self._db = database
        self._codec = codec
        self._clock = clock
        self._decoded = RecentlyDecoded()
        self._notifier = HeadNotifier()

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Mapping[str, Any] | None = None,
    ) -> AppendResult:
        check_append(stream_id, expected_version, events)
        recorded_at = self._clock.now().isoformat()
        item = _Append(
            stream_id,
            expected_version,
            metadata.command_id,
            [self._codec.encode(event) for event in events],
            encode_metadata(metadata, recorded_at),
            outcome,
        )
        result: AppendResult = await self._db.write_in_group(_run_appends, item)
        if result.last_position is not None and not result.duplicate:
            self._seed(item, events, _stamped(metadata, recorded_at, item.metadata), result)
            self._notifier.advance(result.last_position)
        return result

    async def append_chain(
        self, stream_id: str, appends: Sequence[CommandAppend], expected_version: int
    ) -> list[AppendResult]:
        """Several commands' appends to one stream in one job: all or none. Raises
        ``VersionConflictError`` or ``CommandAlreadyRecordedError`` before writing."""
        recorded_at = self._clock.now().isoformat()
        items: list[_Append] = []
        version = expected_version
        for append in appends:
            check_append(stream_id, version, append.events)
            items.append(
                _Append(
                    stream_id,
                    version,
                    append.metadata.command_id,
                    [self._codec.encode(event) for event in append.events],
                    encode_metadata(append.metadata, recorded_at),
                    append.outcome,
                )
            )
            version += len(append.events)

        def job(conn: sqlite3.Connection) -> list[AppendResult]:
            (current,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?", (stream_id,)
            ).fetchone()
            if current != expected_version:
                raise VersionConflictError(stream_id, expected_version, current)
            for item in items:
                if item.command_id is not None and _find_command(conn, stream_id, item.command_id):
                    raise CommandAlreadyRecordedError(stream_id, item.command_id)
            results = _run_appends(conn, items)
            for result in results:
                if isinstance(result, BaseException):
                    raise result  # after writing: the database redoes the batch isolated
            return [r for r in results if isinstance(r, AppendResult)]

        results = await self._db.write(job)
        for append, item, result in zip(appends, items, results, strict=True):
            metadata = _stamped(append.metadata, recorded_at, item.metadata)
            self._seed(item, append.events, metadata, result)
        last = max((r.last_position for r in results if r.last_position is not None), default=None)
        if last is not None:
            self._notifier.advance(last)
        return results

    async def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        last = _LAST_VERSION if to_version is None else to_version
        rows = self._db.read_now(
            lambda conn: conn.execute(
                _SELECT_EVENTS
                + "WHERE stream_id = ? AND version >= ? AND version <= ? ORDER BY version",
                (stream_id, from_version, last),
            ).fetchall()
        )
        return [self._decode(row) for row in rows]

    async def read_all(self, after_position: int, limit: int = 1000) -> list[RecordedEvent]:
        # A follower of the log at its head reads a few new events per wake-up: that
        # read is a point read, done on the event loop's thread (handing it to a
        # thread and back cost more). Only a page that comes back full goes on in a
        # thread: positions are dense and commit in order, so the rest follows on.
        first = min(limit, _READ_NOW_EVENTS)
        rows = self._db.read_now(
            lambda conn: conn.execute(_READ_ALL, (after_position, first)).fetchall()
        )
        if len(rows) == first < limit:
            after, more = rows[-1][0], limit - first
            rows += await self._db.read(
                lambda conn: conn.execute(_READ_ALL, (after, more)).fetchall()
            )
        return [self._decode(row) for row in rows]

    async def head_position(self) -> int:
        (head,) = self._db.read_now(
            lambda conn: conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
        )
        return int(head)

    async def find_command(self, stream_id: str, command_id: str) -> AppendResult | None:
        return self._db.read_now(lambda conn: _find_command(conn, stream_id, command_id))

    async def wait_for_events(self, after_position: int, timeout: float) -> None:
        await self._notifier.wait(after_position, timeout)

    def subscribe(
        self, after_position: int, page_size: int = 500, safety_poll_s: float = 1.0
    ) -> AsyncIterator[list[RecordedEvent]]:
        return follow(self, after_position, page_size, safety_poll_s)

    async def close(self) -> None:
        await self._db.close()

    def _seed(
        self, item: _Append, events: Sequence[Event], metadata: Metadata, result: AppendResult
    ) -> None:
        """The rows just committed, kept with the events they were written from: every
        follower of the log reads them next, and none has to decode them. Kept only
        where the read would return the very row written (``RecentlyDecoded``
        compares), so what a reader gets is what decoding the row gives."""
        first, last = result.first_position, result.last_position
        if first is None or last is None or last - first + 1 != len(events) or result.duplicate:
            return
        first_version = result.version - len(events) + 1
        for index, (event, (type_name, schema_version, data)) in enumerate(
            zip(events, item.events, strict=True)
        ):
            position, version = first + index, first_version + index
            row = (
                position,
                item.stream_id,
                version,
                type_name,
                schema_version,
                data,
                item.metadata,
            )
            self._decoded.keep(
                row, RecordedEvent(item.stream_id, version, position, event, metadata)
            )

    def _decode(self, row: tuple[Any, ...]) -> RecordedEvent:
        return self._decoded.decode(row, self._codec)


def _stamped(metadata: Metadata, recorded_at: str, encoded: str) -> Metadata:
    """The metadata as decoding ``encoded`` (``encode_metadata(metadata, recorded_at)``)
    gives it, without parsing the JSON just written: for text fields the two are one."""
    if metadata.recorded_at is not None:
        return metadata
    if all(isinstance(v, str) for v in metadata.as_dict().values()):
        return replace(metadata, recorded_at=recorded_at)
    return decode_metadata(encoded)


@dataclass(slots=True)
class _Append:
    stream_id: str
    expected_version: int
    command_id: str | None
    events: list[tuple[str, int, str]]
    metadata: str
    outcome: Mapping[str, Any] | None


_INSERT_EVENT = (
    "INSERT INTO events (position, stream_id, version, type, schema_version, data, metadata) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_COMMAND = (
    "INSERT INTO stream_commands (stream_id, command_id, version, first_position, "
    "last_position, outcome) VALUES (?, ?, ?, ?, ?, ?)"
)


def _run_appends(conn: sqlite3.Connection, appends: list[_Append]) -> list[Any]:
    """Every append of a batch in a few statements: versions and known command ids
    read at once, then rows inserted with ``executemany``. Each append is checked on
    its own (against the ones before it in the batch too); one that fails writes
    nothing and fails alone."""
    streams = list({a.stream_id for a in appends})
    current: dict[str, int] = {}
    # Joins on a VALUES list, so that each lookup is one index seek (an IN list or a
    # GROUP BY would scan every version of every stream).
    for chunk in _chunks(streams):
        marks = ",".join("(?)" for _ in chunk)
        current.update(
            conn.execute(
                f"WITH wanted(id) AS (VALUES {marks}) SELECT id, (SELECT MAX(version) "
                "FROM events WHERE stream_id = wanted.id) FROM wanted",
                chunk,
            ).fetchall()
        )
    keys = [(a.stream_id, a.command_id) for a in appends if a.command_id is not None]
    known: set[tuple[str, str]] = set()
    for chunk in _chunks(keys, 2):
        pairs = ",".join("(?,?)" for _ in chunk)
        flat = [part for key in chunk for part in key]
        known.update(
            conn.execute(
                f"WITH wanted(s, c) AS (VALUES {pairs}) SELECT s, c FROM wanted "
                "JOIN stream_commands ON stream_id = s AND command_id = c",
                flat,
            ).fetchall()
        )
    (position,) = conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
    recorded: dict[tuple[str, str], AppendResult] = {}
    event_rows: list[tuple[Any, ...]] = []
    command_rows: list[tuple[Any, ...]] = []
    results: list[Any] = []
    for a in appends:
        if a.command_id is not None:
            key = (a.stream_id, a.command_id)
            first = recorded.get(key)
            if first is None and key in known:
                first = _find_command(conn, a.stream_id, a.command_id)
            if first is not None:
                results.append(first)
                continue
        version = current.get(a.stream_id) or 0
        if a.expected_version != ANY and version != a.expected_version:
            results.append(VersionConflictError(a.stream_id, a.expected_version, version))
            continue
        first_position = position + 1 if a.events else None
        for type_name, schema_version, data in a.events:
            position += 1
            version += 1
            event_rows.append(
                (position, a.stream_id, version, type_name, schema_version, data, a.metadata)
            )
        last_position = position if a.events else None
        current[a.stream_id] = version
        if a.command_id is not None:
            command_rows.append(
                (
                    a.stream_id,
                    a.command_id,
                    version,
                    first_position,
                    last_position,
                    encode_outcome(a.outcome),
                )
            )
            recorded[(a.stream_id, a.command_id)] = AppendResult(
                a.stream_id, version, first_position, last_position, True, a.outcome
            )
        results.append(
            AppendResult(a.stream_id, version, first_position, last_position, False, a.outcome)
        )
    conn.executemany(_INSERT_EVENT, event_rows)
    conn.executemany(_INSERT_COMMAND, command_rows)
    return results


def _chunks(items: list[Any], width: int = 1, limit: int = 30_000) -> list[list[Any]]:
    """Slices small enough for SQLite's limit on bound parameters."""
    size = max(limit // width, 1)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _find_command(conn: sqlite3.Connection, stream_id: str, command_id: str) -> AppendResult | None:
    row = conn.execute(
        "SELECT version, first_position, last_position, outcome FROM stream_commands "
        "WHERE stream_id = ? AND command_id = ?",
        (stream_id, command_id),
    ).fetchone()
    if row is None:
        return None
    version, first_position, last_position, outcome = row
    return AppendResult(
        stream_id,
        version,
        first_position,
        last_position,
        duplicate=True,
        outcome=decode_outcome(outcome),
    )
