"""Transaction ids belong to the whole PostgreSQL server, not to one database: a
transaction left open in another database of the same server (another application,
a pg_dump) must not hold the log's readers back, while one open in ours still does."""

from __future__ import annotations

import uuid

import psycopg

from chargeledger.adapters.postgres_store import PostgresEventStore
from chargeledger.application.ports import NO_STREAM, Metadata
from chargeledger.domain.events import CommandAccepted
from tests.stores import open_test_stores


async def test_a_transaction_open_in_another_database_does_not_hold_readers_back(
    postgres_server: str, postgres_dsn: str
) -> None:
    other = f"cl_other_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{other}"'.encode())
    store, _ = await open_test_stores(postgres_dsn)
    assert isinstance(store, PostgresEventStore)
    try:
        with psycopg.connect(f"{postgres_server}/{other}") as elsewhere:
            elsewhere.execute("SELECT pg_current_xact_id()")  # open, with an id, and left so
            appended = await store.append(
                "after-the-other", [CommandAccepted("c-1", {})], NO_STREAM, Metadata()
            )
            await store.append("and-one-more", [CommandAccepted("c-2", {})], NO_STREAM, Metadata())
            read = await store.read_all(0, 10)
            assert appended.first_position in [r.position for r in read]
            elsewhere.rollback()
    finally:
        await store.close()
        with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)'.encode())
