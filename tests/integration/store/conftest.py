"""One contract, three stores: each test here runs on memory, SQLite and PostgreSQL
(``backend``), or on the two durable ones (``durable``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore, InMemoryEventStore
from chargeledger.application.ports import DocumentStore, EventStore
from tests.stores import MemoryEventStore, open_test_stores


@dataclass
class Backend:
    """How to open (and reopen) one kind of store for a test."""

    name: str
    url: str | None
    """``None`` for the in-memory fake, which lives only in this process."""
    _memory: tuple[InMemoryEventStore, InMemoryDocumentStore] | None = None
    opened: list[EventStore] = field(default_factory=list)

    @property
    def durable(self) -> bool:
        return self.url is not None

    async def open(self) -> tuple[EventStore, DocumentStore]:
        if self.url is None:
            if self._memory is None:
                self._memory = (MemoryEventStore(), InMemoryDocumentStore())
            return self._memory
        events, documents = await open_test_stores(self.url)
        self.opened.append(events)
        return events, documents

    def execute_sql(self, sql: str, params: tuple[object, ...] = ()) -> None:
        """Change the stored rows behind the store's back (to plant a corrupt row)."""
        assert self.url is not None
        if self.url.startswith("sqlite:///"):
            import sqlite3

            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
                conn.execute(sql.replace("%s", "?"), params)
        else:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql.encode(), params)


def _backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if name == "memory":
        return Backend("memory", None)
    if name == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'store.db'}")
    return Backend("postgres", request.getfixturevalue("postgres_dsn"))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    chosen = _backend(request.param, request, tmp_path)
    yield chosen
    for store in chosen.opened:
        await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def durable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    chosen = _backend(request.param, request, tmp_path)
    yield chosen
    for store in chosen.opened:
        await store.close()


async def caught_up(store: EventStore, position: int | None, timeout: float = 10.0) -> None:
    """Wait until the whole-log readers may see ``position``.

    On PostgreSQL an append shows in ``read_all`` once every transaction that began
    before it has ended, anywhere on the server (that is what keeps the global order
    gap-free), so a test that reads the log right after appending waits for it.
    """
    if position is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await store.head_position() < position:
        assert loop.time() < deadline, f"position {position} never became visible"
        await store.wait_for_events(position - 1, 0.05)
