"""The event stores as tests build them: the collaborators a node gives a store (a
codec, a clock) are required in production code; here, the ones a node would give
unless a test gives its own (a fresh ``EventCodec``, the system clock)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chargeledger.adapters.clock import SystemClock
from chargeledger.adapters.memory import InMemoryEventStore
from chargeledger.adapters.serialization import EventCodec
from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.adapters.sqlite_store import SQLiteEventStore
from chargeledger.application.ports import Clock, DocumentStore, EventStore
from chargeledger.bootstrap import open_stores

if TYPE_CHECKING:
    from chargeledger.adapters.postgres_database import PostgresDatabase
    from chargeledger.adapters.postgres_store import PostgresEventStore


class MemoryEventStore(InMemoryEventStore):
    """The in-memory event store; tests subclass it to count or slow its calls."""

    def __init__(self, codec: EventCodec | None = None, clock: Clock | None = None) -> None:
        super().__init__(codec or EventCodec(), clock or SystemClock())


def sqlite_event_store(
    database: SQLiteDatabase, codec: EventCodec | None = None, clock: Clock | None = None
) -> SQLiteEventStore:
    return SQLiteEventStore(database, codec or EventCodec(), clock or SystemClock())


def postgres_event_store(
    database: PostgresDatabase, codec: EventCodec | None = None, clock: Clock | None = None
) -> PostgresEventStore:
    from chargeledger.adapters.postgres_store import PostgresEventStore

    return PostgresEventStore(database, codec or EventCodec(), clock or SystemClock())


async def open_test_stores(
    url: str, clock: Clock | None = None
) -> tuple[EventStore, DocumentStore]:
    """``open_stores`` with the system clock unless ``clock`` is given."""
    return await open_stores(url, clock or SystemClock())
