"""``SQLiteEventStore`` and ``SQLiteDocumentStore``: the embedded default."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from chargeledger.adapters.notifier import HeadNotifier, follow
from chargeledger.adapters.serialization import (
    EventCodec,
    check_append,
    decode_metadata,
    decode_outcome,
    dumps,
    encode_metadata,
    encode_outcome,
)
from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.application.ports import (
    ANY,
    AppendResult,
    CorruptEventError,
    DocumentWrite,
    Metadata,
    RecordedEvent,
    VersionConflictError,
)
from chargeledger.domain.events import Event

_SELECT_EVENTS = (
    "SELECT position, stream_id, version, type, schema_version, data, metadata FROM events "
)


class SQLiteEventStore:
    """The embedded event store. Positions are dense (1, 2, 3, ...) and commit in order,
    since the file has one writer at a time."""

    def __init__(self, database: SQLiteDatabase, codec: EventCodec | None = None) -> None:
        self._db = database
        self._codec = codec or EventCodec()
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
        encoded = [self._codec.encode(event) for event in events]
        meta = encode_metadata(metadata, datetime.now(UTC).isoformat())
        command_id = metadata.command_id
        stored_outcome = encode_outcome(outcome)

        def job(conn: sqlite3.Connection) -> AppendResult:
            known, current = conn.execute(_COMMAND_AND_VERSION, (stream_id, command_id)).fetchone()
            if known:
                return _find_command(conn, stream_id, str(command_id))  # type: ignore[return-value]
            if expected_version != ANY and current != expected_version:
                raise VersionConflictError(stream_id, expected_version, current)
            first_position: int | None = None
            last_position: int | None = None
            version = current
            for type_name, schema_version, data in encoded:
                version += 1
                last_position = conn.execute(
                    _INSERT_EVENT, (stream_id, version, type_name, schema_version, data, meta)
                ).lastrowid
                if first_position is None:
                    first_position = last_position
            if command_id is not None:
                conn.execute(
                    _INSERT_COMMAND,
                    (stream_id, command_id, version, first_position, last_position, stored_outcome),
                )
            return AppendResult(stream_id, version, first_position, last_position, False, outcome)

        result = await self._db.write(job)
        if result.last_position is not None and not result.duplicate:
            self._notifier.advance(result.last_position)
        return result

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                _SELECT_EVENTS + "WHERE stream_id = ? AND version >= ? ORDER BY version",
                (stream_id, from_version),
            ).fetchall()
        )
        return [self._decode(row) for row in rows]

    async def read_all(self, after_position: int, limit: int = 1000) -> list[RecordedEvent]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                _SELECT_EVENTS + "WHERE position > ? ORDER BY position LIMIT ?",
                (after_position, limit),
            ).fetchall()
        )
        return [self._decode(row) for row in rows]

    async def head_position(self) -> int:
        (head,) = await self._db.read(
            lambda conn: conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
        )
        return int(head)

    async def find_command(self, stream_id: str, command_id: str) -> AppendResult | None:
        return await self._db.read(lambda conn: _find_command(conn, stream_id, command_id))

    async def wait_for_events(self, after_position: int, timeout: float) -> None:
        await self._notifier.wait(after_position, timeout)

    def subscribe(
        self, after_position: int, page_size: int = 500, safety_poll_s: float = 1.0
    ) -> AsyncIterator[list[RecordedEvent]]:
        return follow(self, after_position, page_size, safety_poll_s)

    async def close(self) -> None:
        await self._db.close()

    def _decode(self, row: tuple[Any, ...]) -> RecordedEvent:
        position, stream_id, version, type_name, schema_version, data, meta = row
        try:
            event = self._codec.decode(type_name, schema_version, data)
            metadata = decode_metadata(meta)
        except Exception as exc:
            raise CorruptEventError(stream_id, position, f"{type(exc).__name__}: {exc}") from exc
        return RecordedEvent(stream_id, version, position, event, metadata)


_COMMAND_AND_VERSION = (
    "SELECT EXISTS (SELECT 1 FROM stream_commands WHERE stream_id = ?1 AND command_id = ?2), "
    "(SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?1)"
)
_INSERT_EVENT = (
    "INSERT INTO events (stream_id, version, type, schema_version, data, metadata) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_COMMAND = (
    "INSERT INTO stream_commands (stream_id, command_id, version, first_position, "
    "last_position, outcome) VALUES (?, ?, ?, ?, ?, ?)"
)


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


class SQLiteDocumentStore:
    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    async def get(self, model: str, key: str) -> dict[str, Any] | None:
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT doc FROM documents WHERE model = ? AND key = ?", (model, key)
            ).fetchone()
        )
        return None if row is None else dict(json.loads(row[0]))

    async def list(self, model: str, tag: str | None = None) -> list[dict[str, Any]]:
        if tag is None:
            sql, params = "SELECT doc FROM documents WHERE model = ? ORDER BY key", (model,)
        else:
            sql = "SELECT doc FROM documents WHERE model = ? AND tag = ? ORDER BY key"
            params = (model, tag)  # type: ignore[assignment]
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return [dict(json.loads(row[0])) for row in rows]

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        await self._db.write(lambda conn: _apply_writes(conn, writes))

    async def checkpoint(self, name: str) -> int:
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT position FROM checkpoints WHERE name = ?", (name,)
            ).fetchone()
        )
        return 0 if row is None else int(row[0])

    async def commit_batch(self, name: str, position: int, writes: Sequence[DocumentWrite]) -> None:
        def job(conn: sqlite3.Connection) -> None:
            _apply_writes(conn, writes)
            conn.execute(
                "INSERT INTO checkpoints (name, position) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                (name, position),
            )

        await self._db.write(job)

    async def next_in_sequence(self, name: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            (value,) = conn.execute(
                "INSERT INTO sequences (name, value) VALUES (?, 1) "
                "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                (name,),
            ).fetchone()
            return int(value)

        return await self._db.write(job)


def _apply_writes(conn: sqlite3.Connection, writes: Sequence[DocumentWrite]) -> None:
    for write in writes:
        if write.doc is None:
            conn.execute(
                "DELETE FROM documents WHERE model = ? AND key = ?", (write.model, write.key)
            )
        else:
            conn.execute(
                "INSERT INTO documents (model, key, doc, tag) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (model, key) DO UPDATE SET doc = excluded.doc, tag = excluded.tag",
                (write.model, write.key, dumps(write.doc), write.tag),
            )
