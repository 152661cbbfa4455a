"""The command bus with fake ports: conflicts are retried, repeats are recognised."""

from __future__ import annotations

import asyncio

import pytest

from chargeledger.adapters.memory import InMemoryEventStore
from chargeledger.application.command_bus import CommandBus, RetriesExhaustedError
from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import ConnectorNotAvailableError, DomainError
from tests.fakes import FakeClock, RacingEventStore

AT = "2026-01-01T00:00:00+00:00"
LATER = "2026-01-01T00:10:00+00:00"


def start(command_id: str, tag: str = "TAG", connector: int = 1) -> c.RequestRemoteStart:
    return c.RequestRemoteStart(command_id, connector, tag, AT, LATER)


async def test_a_conflict_is_retried_on_fresh_state_and_succeeds() -> None:
    store = RacingEventStore(races=2)
    bus = CommandBus(store, FakeClock())
    result = await bus.execute("CP1", start("cmd-1"))
    assert result.events == [e.RemoteStartRequested("cmd-1", 1, "TAG", AT, LATER)]
    assert bus.conflicts == 2
    stored = await store.read_stream("station-CP1")
    assert [r.version for r in stored] == [1, 2, 3]
    assert isinstance(stored[-1].event, e.RemoteStartRequested)


async def test_conflicts_beyond_the_bound_give_a_retryable_error() -> None:
    store = RacingEventStore(races=100)
    bus = CommandBus(store, FakeClock(), max_attempts=3)
    with pytest.raises(RetriesExhaustedError):
        await bus.execute("CP1", start("cmd-1"))
    assert store.appends_tried == 3


async def test_a_repeated_command_id_returns_the_first_outcome_without_deciding() -> None:
    store = InMemoryEventStore()
    bus = CommandBus(store, FakeClock())
    first = await bus.execute("CP1", start("cmd-1"))
    await bus.execute("CP1", c.RecordOutcome("cmd-1:rejected", "cmd-1", "rejected"))
    again = await bus.execute("CP1", start("cmd-1"))
    assert again.duplicate
    assert again.position == first.position
    assert len(await store.read_stream("station-CP1")) == 2


async def test_a_repeat_of_a_refused_command_is_refused_the_same_way() -> None:
    store = InMemoryEventStore()
    bus = CommandBus(store, FakeClock())
    await bus.execute("CP1", start("cmd-1", tag="A"))
    with pytest.raises(ConnectorNotAvailableError):
        await bus.execute("CP1", start("cmd-2", tag="B"))
    await bus.execute("CP1", c.RecordOutcome("cmd-1:rejected", "cmd-1", "rejected"))
    with pytest.raises(DomainError) as refused:
        await bus.execute("CP1", start("cmd-2", tag="B"))
    assert refused.value.code == "ConnectorNotAvailable"


async def test_concurrent_callers_on_one_station_never_see_a_conflict() -> None:
    store = InMemoryEventStore()
    bus = CommandBus(store, FakeClock())
    results = await asyncio.gather(
        *(bus.execute("CP1", start(f"cmd-{n}", tag=f"T{n}", connector=n)) for n in range(1, 33))
    )
    assert all(len(r.events) == 1 for r in results)
    assert bus.conflicts == 0
    assert [r.version for r in await store.read_stream("station-CP1")] == list(range(1, 33))


async def test_exactly_one_of_competing_remote_starts_for_a_connector_wins() -> None:
    store = InMemoryEventStore()
    bus = CommandBus(store, FakeClock())
    outcomes = await asyncio.gather(
        *(bus.execute("CP1", start(f"cmd-{n}", tag=f"T{n}")) for n in range(16)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, ConnectorNotAvailableError) for o in outcomes if o not in winners)
