"""Rows written by older code read back through the upcasters of newer code."""

from __future__ import annotations

from typing import Any

import pytest

from chargeledger.adapters.postgres_database import PostgresDatabase
from chargeledger.adapters.serialization import EventCodec
from chargeledger.adapters.sqlite_database import SQLiteDatabase, sqlite_path
from chargeledger.application.ports import NO_STREAM, CorruptEventError, EventStore, Metadata
from chargeledger.domain.events import CommandAccepted
from tests.integration.store.conftest import Backend
from tests.stores import postgres_event_store, sqlite_event_store


async def open_with(backend: Backend, codec: EventCodec) -> EventStore:
    assert backend.url is not None
    store: EventStore
    if backend.name == "sqlite":
        store = sqlite_event_store(SQLiteDatabase(sqlite_path(backend.url)), codec)
    else:
        store = postgres_event_store(await PostgresDatabase.open(backend.url), codec)
    backend.opened.append(store)
    return store


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept the station's answer under ``answer``; version 2 calls it ``result``."""
    data = dict(data)
    data["result"] = data.pop("answer", {})
    return data


async def test_an_old_schema_version_is_upcast_on_read(durable: Backend) -> None:
    old = await open_with(durable, EventCodec())
    await old.append("s-1", [CommandAccepted("c-1", {"status": "Accepted"})], NO_STREAM, Metadata())
    # Rewrite the stored row into the old shape, as version-1 code would have written it.
    durable.execute_sql(
        "UPDATE events SET data = %s WHERE stream_id = %s",
        ('{"command_id": "c-1", "answer": {"status": "Accepted"}, "detail": ""}', "s-1"),
    )
    newer = await open_with(
        durable,
        EventCodec(
            schema_versions={"CommandAccepted": 2},
            upcasters={("CommandAccepted", 1): v1_to_v2},
        ),
    )
    (recorded,) = await newer.read_stream("s-1")
    assert recorded.event == CommandAccepted("c-1", {"status": "Accepted"})

    without = await open_with(durable, EventCodec(schema_versions={"CommandAccepted": 2}))
    with pytest.raises(CorruptEventError, match="no upcaster for CommandAccepted"):
        await without.read_stream("s-1")
