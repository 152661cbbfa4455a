"""``PostgresDocumentStore``: the read models, registries, checkpoints and sequences
beside the events, shared by the nodes of a cluster. Apart from the event store since
it shares only the database with it: its own statements, its batched point reads, the
quarantine of misshapen documents and the leader's term that fences projection batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from chargeledger.adapters.document_paging import page_query
from chargeledger.adapters.postgres_database import PostgresDatabase
from chargeledger.adapters.postgres_reads import ABSENT, DocumentGetBatcher
from chargeledger.adapters.postgres_sequences import SequenceBlocks
from chargeledger.adapters.serialization import dumps
from chargeledger.application.cluster import LeadershipLostError
from chargeledger.application.document_merges import DocumentMerge
from chargeledger.application.ports import ChangeCursor, DocumentPage, DocumentWrite
from chargeledger.application.quarantine import MisshapenDocumentError, Quarantine, check_shape

AnyConnection = psycopg.AsyncConnection[Any]

# A batch's upserts (and its deletes) go as one statement, the rows passed as arrays in
# binary: ``executemany`` sent a statement per document, and the client's work per
# statement (psycopg's pipeline) was most of what the twin writer cost. The rows are
# the same, one per key (``_split``), in the same order, so the triggers (the twins'
# change mark and fence) see each write as before.
_UPSERT_DOCS = (
    "INSERT INTO documents (model, key, doc, tag) SELECT m, k, d::jsonb, t "
    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]) AS w(m, k, d, t) "
    "ON CONFLICT (model, key) DO UPDATE SET doc = excluded.doc, tag = excluded.tag"
)
_DELETE_DOCS = (
    "DELETE FROM documents USING unnest(%b::text[], %b::text[]) AS w(m, k) "
    "WHERE documents.model = w.m AND documents.key = w.k"
)
# A merge's row, inserted empty (JSON null) if absent, then locked: the placeholder is
# seen by no reader, as the merge replaces it in the same transaction.
_RESERVE_DOCS = (
    "INSERT INTO documents (model, key, doc) SELECT %s, k, 'null'::jsonb "
    "FROM unnest(%s::text[]) AS k ORDER BY k ON CONFLICT (model, key) DO NOTHING"
)
_LOCK_DOCS = (
    "SELECT key, doc FROM documents WHERE model = %s AND key = ANY(%s) ORDER BY key FOR UPDATE"
)

# A document's ``changed`` is the id of the transaction that last wrote it. Every id
# below the oldest transaction still running has committed or never will, so a reader
# that stops there never passes a write that commits later (as ``_VISIBLE_BOUND`` in
# ``postgres_store.py``, and for the same reason: ids running in another database are
# passed over).
_CHANGED_BOUND = """(SELECT coalesce(
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE x::text::bigint %% 4294967296 NOT IN (
         SELECT backend_xid::text::bigint FROM pg_stat_activity
         WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())),
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint))"""
CHANGE_TRACKED = "twin"
"""The one model whose writes are marked (migration 3): the twins, which the nodes of a
cluster follow. The model is written into the statement, not passed, so that the
planner matches the partial index ``documents_by_change`` whatever plan it caches."""
_CHANGED_SINCE = (
    f"SELECT key, doc, changed FROM documents WHERE model = '{CHANGE_TRACKED}' "
    "AND (changed, key) > (%s, %s) "
    f"AND changed < {_CHANGED_BOUND} ORDER BY changed, key LIMIT %s"
)


class PostgresDocumentStore:
    """Read models, registries, checkpoints and sequences beside the events."""

    def __init__(self, database: PostgresDatabase, quarantine: Quarantine | None = None) -> None:
        self._db = database
        self._gets = DocumentGetBatcher(database.pool)
        self.sequences = SequenceBlocks(database)
        self.quarantine = Quarantine() if quarantine is None else quarantine
        self.leader_term: Callable[[], int] | None = None
        """In a cluster: the term under which this node's projections write; a batch is
        refused (``LeadershipLostError``) unless it is the cluster's current term."""

    async def get(self, model: str, key: str) -> dict[str, Any] | None:
        value = await self._gets.get(model, key)
        return None if value is ABSENT else self._readable(model, key, value)

    async def list(self, model: str, tag: str | None = None) -> list[dict[str, Any]]:
        async with self._db.pool.connection() as conn:
            if tag is None:
                cursor = await conn.execute(
                    "SELECT key, doc FROM documents WHERE model = %s ORDER BY key", (model,)
                )
            else:
                cursor = await conn.execute(
                    "SELECT key, doc FROM documents WHERE model = %s AND tag = %s ORDER BY key",
                    (model, tag),
                )
            rows = await cursor.fetchall()
        docs = []
        for key, value in rows:
            doc = self._readable(model, key, value)
            if doc is not None:
                docs.append(doc)
        return docs

    def _readable(self, model: str, key: str, value: Any) -> dict[str, Any] | None:
        """JSONB holds valid JSON text, but not always an object of the model's shape:
        one that is not is quarantined, and its readers go on with the others."""
        try:
            if not isinstance(value, dict):
                raise MisshapenDocumentError(f"a document is an object, not {type(value).__name__}")
            check_shape(model, value)
        except MisshapenDocumentError as error:
            self.quarantine.add(model, key, error)
            return None
        return value

    async def page(
        self,
        model: str,
        *,
        limit: int,
        tag: str | None = None,
        after: str | None = None,
        descending: bool = False,
    ) -> DocumentPage:
        sql, params = page_query(model, limit, tag, after, descending, "%s")
        async with self._db.pool.connection() as conn:
            cursor = await conn.execute(sql, params)
            rows = await cursor.fetchall()
        page = []
        for key, value in rows:
            doc = self._readable(model, str(key), value)
            if doc is not None:
                page.append((str(key), doc))
        return page

    async def changed_since(
        self, model: str, after: ChangeCursor, limit: int
    ) -> tuple[DocumentPage, ChangeCursor]:
        if model != CHANGE_TRACKED:
            raise ValueError(
                f"only the {CHANGE_TRACKED!r} model's writes are marked, not {model!r}"
            )
        async with self._db.pool.connection() as conn:
            cursor = await conn.execute(_CHANGED_SINCE, (after[0], after[1], limit))
            rows = await cursor.fetchall()
        page = []
        for key, value, changed in rows:
            after = (int(changed), str(key))
            doc = self._readable(model, str(key), value)
            if doc is not None:
                page.append((str(key), doc))
        return page, after

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        upserts, deletes = _split(writes)
        if upserts and deletes:
            async with self._db.pool.connection() as conn, conn.transaction():
                await _apply(conn, upserts, deletes)
            return
        # One statement is atomic alone: no BEGIN and COMMIT around it (two round trips
        # more, each as dear to the client as the statement).
        if upserts or deletes:
            async with self._db.pool.connection() as conn:
                await _apply(conn, upserts, deletes)

    async def write_merging(
        self, writes: Sequence[DocumentWrite], merges: Sequence[DocumentMerge]
    ) -> None:
        """The writes, then each merge applied to its row locked ``FOR UPDATE`` (a row
        not there yet is first inserted empty, so a concurrent first merge of the same
        key waits for this one and then merges into it): the nodes' merges of one
        document serialize, and none loses another's. Keys are locked in order."""
        upserts, deletes = _split(writes)
        by_model: dict[str, dict[str, DocumentMerge]] = {}
        for merge in merges:
            by_model.setdefault(merge.model, {})[merge.key] = merge
        async with self._db.pool.connection() as conn, conn.transaction():
            await _apply(conn, upserts, deletes)
            merged: list[tuple[str, str, str, str | None]] = []
            for model, keyed in sorted(by_model.items()):
                keys = sorted(keyed)
                await conn.execute(_RESERVE_DOCS, (model, keys))
                cursor = await conn.execute(_LOCK_DOCS, (model, keys))
                stored = {str(key): doc for key, doc in await cursor.fetchall()}
                for key in keys:
                    current = stored.get(key)
                    doc = keyed[key].merge(current if isinstance(current, dict) else None)
                    merged.append((model, key, dumps(dict(doc)), None))
            await _apply(conn, merged, [])

    async def checkpoint(self, name: str) -> int:
        async with self._db.pool.connection() as conn:
            cursor = await conn.execute("SELECT position FROM checkpoints WHERE name = %s", (name,))
            row = await cursor.fetchone()
        return 0 if row is None else int(row[0])

    async def commit_batch(self, name: str, position: int, writes: Sequence[DocumentWrite]) -> None:
        upserts, deletes = _split(writes)
        async with self._db.pool.connection() as conn, conn.transaction():
            if self.leader_term is not None:
                await _check_term(conn, self.leader_term())
            await _apply(conn, upserts, deletes)
            await conn.execute(
                "INSERT INTO checkpoints (name, position) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                (name, position),
            )

    async def forget(self, models: Sequence[str], checkpoint_name: str) -> int:
        async with self._db.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM documents WHERE model = ANY(%s)", (list(models),)
            )
            await conn.execute(
                "INSERT INTO checkpoints (name, position) VALUES (%s, 0) "
                "ON CONFLICT (name) DO UPDATE SET position = 0",
                (checkpoint_name,),
            )
            return cursor.rowcount

    async def next_in_sequence(self, name: str) -> int:
        """Unique across the cluster, increasing on this node (in blocks: see
        ``postgres_sequences``)."""
        return await self.sequences.next(name)


async def _check_term(conn: AnyConnection, term: int) -> None:
    # FOR SHARE: a new leader's term waits for this batch; once it is written, no
    # batch of an older term gets through.
    cursor = await conn.execute("SELECT term FROM cluster_leader WHERE id = 1 FOR SHARE")
    row = await cursor.fetchone()
    current = 0 if row is None else int(row[0])
    if current != term:
        raise LeadershipLostError(
            f"projection batch of leadership term {term} refused: the cluster's term is "
            f"{current}; the node that holds it projects now"
        )


def _split(
    writes: Sequence[DocumentWrite],
) -> tuple[list[tuple[str, str, str, str | None]], list[tuple[str, str]]]:
    """Encode every document before the transaction opens: a bad one changes nothing.
    Only the last write of a key counts, as when the writes are applied in order."""
    last: dict[tuple[str, str], DocumentWrite] = {}
    for write in writes:
        last.pop((write.model, write.key), None)
        last[(write.model, write.key)] = write
    upserts = [
        (w.model, w.key, dumps(dict(w.doc)), w.tag) for w in last.values() if w.doc is not None
    ]
    deletes = [(w.model, w.key) for w in last.values() if w.doc is None]
    return upserts, deletes


async def _apply(
    conn: AnyConnection,
    upserts: list[tuple[str, str, str, str | None]],
    deletes: list[tuple[str, str]],
) -> None:
    if deletes:
        await conn.execute(_DELETE_DOCS, _columns(deletes))
    if upserts:
        await conn.execute(_UPSERT_DOCS, _columns(upserts))


def _columns(rows: Sequence[tuple[str | None, ...]]) -> list[list[str | None]]:
    return [list(column) for column in zip(*rows, strict=True)]
