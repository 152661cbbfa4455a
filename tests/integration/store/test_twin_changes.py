"""A node of a cluster follows the twins other nodes write by reading only those that
changed since its last read (issue 13: reading every twin every second stalled a node
of 33,000 stations for seconds), on real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from chargeledger.adapters.postgres_database import MIGRATIONS
from chargeledger.application.ports import NO_CHANGE_READ, DocumentStore, DocumentWrite, EventStore
from chargeledger.application.twin_service import TWINS, TwinService
from tests.fakes import FakeClock
from tests.stores import open_test_stores

STATIONS = 2_000


class Node:
    """One node's document store and twin service, counting the twin rows it reads."""

    def __init__(self, events: EventStore, documents: DocumentStore) -> None:
        self.events = events
        self.documents = documents
        self.twins = TwinService(documents, FakeClock())
        self.rows_read = 0
        counted: Any = documents
        listed, changed_since = counted.list, getattr(counted, "changed_since", None)

        async def counting_list(model: str, tag: str | None = None) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = await listed(model, tag)
            self.rows_read += len(found) if model == TWINS else 0
            return found

        async def counting_changed_since(model: str, after: Any, limit: int) -> Any:
            page, cursor = await changed_since(model, after, limit)
            self.rows_read += len(page)
            return page, cursor

        counted.list = counting_list
        if changed_since is not None:
            counted.changed_since = counting_changed_since


@pytest.fixture
async def nodes(postgres_dsn: str) -> AsyncIterator[tuple[Node, Node]]:
    a, b = Node(*await open_test_stores(postgres_dsn)), Node(*await open_test_stores(postgres_dsn))
    yield a, b
    await a.events.close()
    await b.events.close()


async def test_a_refresh_after_one_change_reads_that_twin_only(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    for n in range(STATIONS):
        a.twins.heartbeat(f"CP{n:05}", "2026-01-01T00:00:00Z")
    await a.twins.flush()
    assert await b.twins.refresh(held_here=()) == STATIONS

    a.twins.heartbeat("CP00042", "2026-01-01T00:00:09Z")
    await a.twins.flush()
    b.rows_read = 0
    assert await b.twins.refresh(held_here=()) == 1
    assert b.rows_read == 1
    seen = b.twins.get("CP00042")
    assert seen is not None and seen.last_heartbeat == "2026-01-01T00:00:09Z"

    b.rows_read = 0
    assert await b.twins.refresh(held_here=()) == 0
    assert b.rows_read == 0


async def test_a_twin_held_here_is_not_overwritten_and_taken_once_it_leaves(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    b.twins.heartbeat("CP1", "2026-01-01T00:00:05Z")
    await b.twins.flush()
    a.twins.heartbeat("CP1", "2026-01-01T00:00:01Z")
    await a.twins.flush()

    await b.twins.refresh(held_here={"CP1"})
    mine = b.twins.get("CP1")
    assert mine is not None and mine.last_heartbeat == "2026-01-01T00:00:05Z"

    # The station moved to node A, which wrote it before this node let it go: no
    # change comes after, yet this node takes what A wrote.
    await b.twins.refresh(held_here=())
    taken = b.twins.get("CP1")
    assert taken is not None and taken.last_heartbeat == "2026-01-01T00:00:01Z"


async def test_a_database_of_the_first_schema_is_migrated_and_its_twins_read(
    postgres_dsn: str,
) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        conn.execute(MIGRATIONS[0].encode())
        conn.execute("INSERT INTO schema_migrations (version) VALUES (1)")
        conn.execute(
            "INSERT INTO documents (model, key, doc) VALUES ('twin', 'OLD', %s::jsonb)",
            ('{"station_id": "OLD", "connected": true}',),
        )
    node = Node(*await open_test_stores(postgres_dsn))
    try:
        assert await node.twins.refresh(held_here=()) == 1
        assert node.twins.get("OLD") is not None
        assert await node.twins.refresh(held_here=()) == 0
    finally:
        await node.events.close()


async def test_a_node_that_loaded_the_twins_reads_on_from_there(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    for n in range(STATIONS):
        a.twins.heartbeat(f"CP{n:05}", "2026-01-01T00:00:00Z")
    await a.twins.flush()
    await b.twins.load(shared=True)
    assert len(b.twins.all()) == STATIONS

    b.rows_read = 0
    assert await b.twins.refresh(held_here=()) == 0
    assert b.rows_read == 0


def _markers(dsn: str) -> dict[tuple[str, str], int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT model, key, changed FROM documents").fetchall()
    return {(str(model), str(key)): int(changed) for model, key, changed in rows}


async def test_only_the_twins_writes_are_marked_and_indexed(postgres_dsn: str) -> None:
    """The marker's trigger and index serve the twins only (migration 3): the other
    models' writes (every projection batch) run no trigger and feed no index."""
    node = Node(*await open_test_stores(postgres_dsn))
    try:
        await node.documents.write([DocumentWrite("session", "S1", {"state": "active"})])
        await node.documents.write([DocumentWrite("session", "S1", {"state": "ended"})])
        node.twins.heartbeat("CP1", "2026-01-01T00:00:00Z")
        await node.twins.flush()
        markers = _markers(postgres_dsn)
        assert markers[("session", "S1")] == 0
        assert markers[(TWINS, "CP1")] > 0
        with pytest.raises(ValueError, match="session"):
            await node.documents.changed_since("session", NO_CHANGE_READ, 10)  # type: ignore[attr-defined]
    finally:
        await node.events.close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_get_indexdef('documents_by_change'::regclass)").fetchone()
    assert row is not None and str(row[0]).endswith(f"WHERE (model = '{TWINS}'::text)")


async def test_a_database_of_the_second_schema_marks_only_twins_after_migrating(
    postgres_dsn: str,
) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        for number, script in enumerate(MIGRATIONS[:2], start=1):
            conn.execute(script.encode())
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))
        conn.execute(
            "INSERT INTO documents (model, key, doc) VALUES ('session', 'S1', '{}'::jsonb)"
        )
    before = _markers(postgres_dsn)[("session", "S1")]
    assert before > 0  # the second schema marked every write
    node = Node(*await open_test_stores(postgres_dsn))
    try:
        await node.documents.write([DocumentWrite("session", "S1", {"state": "ended"})])
        node.twins.heartbeat("CP1", "2026-01-01T00:00:00Z")
        await node.twins.flush()
        assert _markers(postgres_dsn)[("session", "S1")] == before
        other = Node(node.events, node.documents)
        assert await other.twins.refresh(held_here=()) == 1
    finally:
        await node.events.close()
