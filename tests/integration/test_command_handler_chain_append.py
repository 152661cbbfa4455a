"""The chained append the handler uses, on every store that offers it: all or none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chargeledger.application.ports import (
    ChainedAppends,
    CommandAlreadyRecordedError,
    CommandAppend,
    EventStore,
    Metadata,
    VersionConflictError,
)
from chargeledger.domain.events import CommandAccepted, CommandRejected
from tests.stores import MemoryEventStore, open_test_stores


# Chained appends are an optional capability (``ChainedAppends``): the stores that
# offer it are the ones tested here; PostgreSQL appends one command at a time.
@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    if request.param == "memory":
        yield MemoryEventStore()
        return
    opened, _ = await open_test_stores(f"sqlite:///{tmp_path / 'chain.db'}")
    try:
        yield opened
    finally:
        await opened.close()


def chain(*command_ids: str, events_each: int = 1) -> list[CommandAppend]:
    return [
        CommandAppend(
            [CommandAccepted(f"{cid}-{n}") for n in range(events_each)], Metadata(command_id=cid)
        )
        for cid in command_ids
    ]


async def test_a_chain_lands_as_consecutive_appends_each_with_its_command_id(
    store: EventStore,
) -> None:
    assert isinstance(store, ChainedAppends)
    await store.append("s", [CommandRejected("first")], 0, Metadata(command_id="first"))
    results = await store.append_chain("s", chain("a", "b", "c", events_each=2), 1)
    assert [r.version for r in results] == [3, 5, 7]
    stored = await store.read_stream("s")
    assert [r.metadata.command_id for r in stored] == ["first", "a", "a", "b", "b", "c", "c"]
    repeat = await store.find_command("s", "b")
    assert repeat is not None
    assert (repeat.version, repeat.first_position, repeat.last_position) == (5, 4, 5)


async def test_a_refusal_in_a_chain_is_recorded_with_its_outcome(store: EventStore) -> None:
    assert isinstance(store, ChainedAppends)
    refusal = CommandAppend([], Metadata(command_id="no"), {"error": "ConnectorNotAvailable"})
    await store.append_chain("s", [*chain("a"), refusal, *chain("b")], 0)
    recorded = await store.find_command("s", "no")
    assert recorded is not None
    assert recorded.outcome == {"error": "ConnectorNotAvailable"}
    assert [r.version for r in await store.read_stream("s")] == [1, 2]


async def test_a_stale_chain_writes_nothing(store: EventStore) -> None:
    assert isinstance(store, ChainedAppends)
    await store.append("s", [CommandRejected("x")], 0, Metadata(command_id="x"))
    with pytest.raises(VersionConflictError):
        await store.append_chain("s", chain("a", "b"), 0)
    assert len(await store.read_stream("s")) == 1
    assert await store.find_command("s", "a") is None


async def test_a_chain_with_a_recorded_command_id_writes_nothing(store: EventStore) -> None:
    assert isinstance(store, ChainedAppends)
    await store.append("s", [CommandRejected("b")], 0, Metadata(command_id="b"))
    with pytest.raises(CommandAlreadyRecordedError):
        await store.append_chain("s", chain("a", "b", "c"), 1)
    assert len(await store.read_stream("s")) == 1
    assert await store.find_command("s", "a") is None
