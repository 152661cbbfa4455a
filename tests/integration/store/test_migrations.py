"""The schema is created or brought up to date when a store opens: no manual step."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from chargeledger.adapters.sqlite_database import MIGRATIONS
from chargeledger.application.ports import NO_STREAM, Metadata
from chargeledger.bootstrap import open_stores
from chargeledger.domain.events import CommandAccepted
from tests.integration.store.conftest import caught_up


async def test_a_file_from_the_first_schema_is_upgraded_and_keeps_its_commands(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
        old.executescript(MIGRATIONS[0])
        old.execute("INSERT INTO schema_migrations VALUES (1)")
        old.execute(
            "INSERT INTO events (stream_id, version, type, schema_version, data, metadata) "
            """VALUES ('s-1', 1, 'CommandAccepted', 1, '{"command_id":"a","result":{}}', '{}')"""
        )
        old.execute("INSERT INTO stream_commands VALUES ('s-1', 'a', 1, 1, 1, NULL)")
    store, _ = await open_stores(f"sqlite:///{path}")
    try:
        first = await store.find_command("s-1", "a")
        assert first is not None and (first.version, first.last_position) == (1, 1)
        again = await store.append("s-1", [CommandAccepted("a", {})], NO_STREAM, Metadata("a"))
        assert again.duplicate
        await store.append("s-1", [CommandAccepted("b", {})], 1, Metadata("b"))
        assert [r.version for r in await store.read_stream("s-1")] == [1, 2]
    finally:
        await store.close()
    with sqlite3.connect(path) as upgraded:
        versions = [r[0] for r in upgraded.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


async def test_nodes_opening_a_new_postgres_database_together_create_one_schema(
    postgres_dsn: str,
) -> None:
    opened = await asyncio.gather(*(open_stores(postgres_dsn + "?pool_max=2") for _ in range(4)))
    try:
        results = await asyncio.gather(
            *(
                events.append(f"s-{n}", [CommandAccepted(f"c{n}", {})], NO_STREAM, Metadata())
                for n, (events, _) in enumerate(opened)
            )
        )
        assert [r.version for r in results] == [1, 1, 1, 1]
        await caught_up(opened[0][0], max(r.last_position or 0 for r in results))
        assert len(await opened[0][0].read_all(0)) == 4
    finally:
        for events, _ in opened:
            await events.close()
