"""``SQLiteDocumentStore``: the read models, registries, checkpoints and sequences
of the embedded default, in the same file as the events. Apart from the event store
since it shares only the database with it: its own statements, and reads that take
documents as bytes so one unreadable row is quarantined without hiding the others.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from chargeledger.adapters.document_paging import page_query
from chargeledger.adapters.serialization import UnreadableDocumentError, dumps, loads_document
from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.application.ports import DocumentPage, DocumentWrite
from chargeledger.application.quarantine import MisshapenDocumentError, Quarantine, check_shape


class SQLiteDocumentStore:
    def __init__(self, database: SQLiteDatabase, quarantine: Quarantine | None = None) -> None:
        self._db = database
        self.quarantine = Quarantine() if quarantine is None else quarantine

    async def get(self, model: str, key: str) -> dict[str, Any] | None:
        row = self._db.read_now(
            lambda conn: conn.execute(
                "SELECT CAST(doc AS BLOB) FROM documents WHERE model = ? AND key = ?",
                (model, key),
            ).fetchone()
        )
        if row is None:
            return None
        try:
            doc = loads_document(row[0])
            check_shape(model, doc)
        except (UnreadableDocumentError, MisshapenDocumentError) as error:
            self.quarantine.add(model, key, error)
            return None
        return doc

    async def list(self, model: str, tag: str | None = None) -> list[dict[str, Any]]:
        # Bytes, not text: one row of invalid UTF-8 would fail the whole SELECT.
        select = "SELECT CAST(key AS BLOB), CAST(doc AS BLOB) FROM documents WHERE model = ?"
        if tag is None:
            sql, params = f"{select} ORDER BY key", (model,)
        else:
            sql = f"{select} AND tag = ? ORDER BY key"
            params = (model, tag)  # type: ignore[assignment]
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        docs = []
        for key, raw in rows:
            try:
                doc = loads_document(raw)
                check_shape(model, doc)
            except (UnreadableDocumentError, MisshapenDocumentError) as error:
                # One unreadable row must not hide every other (nor stop a start).
                self.quarantine.add(model, bytes(key).decode("utf-8", "backslashreplace"), error)
                continue
            docs.append(doc)
        return docs

    async def page(
        self,
        model: str,
        *,
        limit: int,
        tag: str | None = None,
        after: str | None = None,
        descending: bool = False,
    ) -> DocumentPage:
        sql, params = page_query(model, limit, tag, after, descending, "?", as_bytes=True)
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        docs = []
        for raw_key, raw in rows:
            key = bytes(raw_key).decode("utf-8", "backslashreplace")
            try:
                doc = loads_document(raw)
                check_shape(model, doc)
            except (UnreadableDocumentError, MisshapenDocumentError) as error:
                self.quarantine.add(model, key, error)
                continue
            docs.append((key, doc))
        return docs

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        await self._db.write(lambda conn: _apply_writes(conn, writes))

    async def checkpoint(self, name: str) -> int:
        row = self._db.read_now(
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

    async def forget(self, models: Sequence[str], checkpoint_name: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            deleted = 0
            for model in models:
                deleted += conn.execute("DELETE FROM documents WHERE model = ?", (model,)).rowcount
            conn.execute(
                "INSERT INTO checkpoints (name, position) VALUES (?, 0) "
                "ON CONFLICT (name) DO UPDATE SET position = 0",
                (checkpoint_name,),
            )
            return deleted

        return await self._db.write(job)

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
