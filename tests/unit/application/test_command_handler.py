"""The command handler with fake ports: conflicts are retried, repeats are recognised,
a flight's queued commands are recorded together."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from chargeledger.adapters.memory import InMemoryEventStore
from chargeledger.application.command_handler import CommandHandler, RetriesExhaustedError
from chargeledger.application.ports import ANY, AppendResult, CommandAppend, Metadata, RecordedEvent
from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import (
    ConnectorNotAvailableError,
    DomainError,
    IdempotencyKeyReusedError,
)
from tests.fakes import FakeClock, RacingEventStore
from tests.stores import MemoryEventStore
from tests.unit.domain.scenario import requested, reset, start, start_transaction, started


class CountingStore(MemoryEventStore):
    """Counts how commands reached the store."""

    def __init__(self) -> None:
        super().__init__()
        self.single_appends = 0
        self.chains: list[int] = []

    async def append(
        self,
        stream_id: str,
        events: Sequence[e.Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Mapping[str, Any] | None = None,
    ) -> AppendResult:
        self.single_appends += 1
        return await super().append(stream_id, events, expected_version, metadata, outcome)

    async def append_chain(
        self, stream_id: str, appends: Sequence[CommandAppend], expected_version: int
    ) -> list[AppendResult]:
        self.chains.append(len(appends))
        return await super().append_chain(stream_id, appends, expected_version)


class RacingChainStore(CountingStore):
    """Another writer appends to the stream before each of the next ``races`` chains."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    async def append_chain(
        self, stream_id: str, appends: Sequence[CommandAppend], expected_version: int
    ) -> list[AppendResult]:
        if self.races > 0:
            self.races -= 1
            rival = e.StationBooted("x", "Accepted", "rival", "writer", None, "t")
            await InMemoryEventStore.append(self, stream_id, [rival], ANY, Metadata())
        return await super().append_chain(stream_id, appends, expected_version)


class SingleAppendStore(MemoryEventStore):
    """A store without the chain capability (as PostgreSQL is until it gains one)."""

    append_chain = None  # type: ignore[assignment]


async def test_a_conflict_is_retried_on_fresh_state_and_succeeds() -> None:
    store = RacingEventStore(races=2)
    handler = CommandHandler(store, FakeClock())
    result = await handler.execute("CP1", start("cmd-1"))
    assert result.events == [requested("cmd-1")]
    assert handler.conflicts == 2
    stored = await store.read_stream("station-CP1")
    assert [r.version for r in stored] == [1, 2, 3]
    assert isinstance(stored[-1].event, e.RemoteStartRequested)


async def test_conflicts_beyond_the_bound_give_a_retryable_error() -> None:
    store = RacingEventStore(races=100)
    handler = CommandHandler(store, FakeClock(), max_attempts=3)
    with pytest.raises(RetriesExhaustedError, match="try again"):
        await handler.execute("CP1", start("cmd-1"))
    assert store.appends_tried == 3


async def test_five_attempts_by_default() -> None:
    store = RacingEventStore(races=100)
    with pytest.raises(RetriesExhaustedError):
        await CommandHandler(store, FakeClock()).execute("CP1", start("cmd-1"))
    assert store.appends_tried == 5


async def test_a_repeated_command_id_returns_the_first_outcome_without_deciding() -> None:
    """I2: a repeated command id returns the first outcome and decides nothing."""
    store = MemoryEventStore()
    handler = CommandHandler(store, FakeClock())
    first = await handler.execute("CP1", start("cmd-1"))
    await handler.execute("CP1", c.RecordOutcome("cmd-1:rejected", "cmd-1", "rejected"))
    again = await handler.execute("CP1", start("cmd-1"))
    assert again.duplicate
    assert again.position == first.position
    assert again.events == first.events  # what the first handling recorded
    assert len(await store.read_stream("station-CP1")) == 2


async def test_a_repeat_of_a_refused_command_is_refused_the_same_way() -> None:
    """I2: a repeat of a refused command id is refused the same way."""
    store = MemoryEventStore()
    handler = CommandHandler(store, FakeClock())
    await handler.execute("CP1", start("cmd-1", tag="A"))
    with pytest.raises(ConnectorNotAvailableError):
        await handler.execute("CP1", start("cmd-2", tag="B"))
    await handler.execute("CP1", c.RecordOutcome("cmd-1:rejected", "cmd-1", "rejected"))
    with pytest.raises(DomainError) as refused:
        await handler.execute("CP1", start("cmd-2", tag="B"))
    assert refused.value.code == "ConnectorNotAvailable"


async def test_the_same_request_answers_with_the_open_one_and_so_does_its_repeat() -> None:
    handler = CommandHandler(MemoryEventStore(), FakeClock())
    await handler.execute("CP1", start("cmd-1"))
    same = await handler.execute("CP1", start("cmd-2"))
    assert (same.events, same.same_as) == ([e.CommandMerged("cmd-2", "cmd-1")], "cmd-1")
    again = await handler.execute("CP1", start("cmd-2"))
    assert again.duplicate
    assert again.same_as == "cmd-1"


async def test_a_repeated_command_id_with_another_fingerprint_is_refused() -> None:
    handler = CommandHandler(MemoryEventStore(), FakeClock())
    await handler.execute("CP1", start("cmd-1"), fingerprint="a")
    assert (await handler.execute("CP1", start("cmd-1"), fingerprint="a")).duplicate
    with pytest.raises(IdempotencyKeyReusedError):
        await handler.execute("CP1", start("cmd-1"), fingerprint="b")


async def test_a_repeated_start_transaction_returns_the_session_the_first_recorded() -> None:
    """I7: a repeated StartTransaction returns the session the first recorded."""
    store = MemoryEventStore()
    handler = CommandHandler(store, FakeClock())
    await handler.execute("CP1", start_transaction(7))
    await handler.execute("CP1", start_transaction(8, connector=2))
    await handler.execute(
        "CP1", c.StopTransaction(command_id="stop:7", transaction_id=7, meter_stop=1, timestamp="t")
    )
    again = await handler.execute("CP1", start_transaction(9))  # the station missed our answer
    assert again.duplicate
    assert again.events == [started(7)]


async def test_concurrent_callers_on_one_station_never_see_a_conflict() -> None:
    store = CountingStore()
    handler = CommandHandler(store, FakeClock())
    results = await asyncio.gather(
        *(handler.execute("CP1", start(f"cmd-{n}", tag=f"T{n}", connector=n)) for n in range(1, 33))
    )
    assert all(len(r.events) == 1 for r in results)
    assert handler.conflicts == 0
    assert [r.version for r in await store.read_stream("station-CP1")] == list(range(1, 33))


async def test_commands_waiting_in_a_flight_are_recorded_in_one_chain() -> None:
    store = CountingStore()
    handler = CommandHandler(store, FakeClock())
    results = await asyncio.gather(
        *(handler.execute("CP1", start(f"cmd-{n}", connector=n)) for n in range(1, 9))
    )
    assert store.single_appends == 0
    assert store.chains == [8]  # all queued before the flight took off: one commit
    assert [r.version for r in results] == list(range(1, 9))


async def test_a_chain_records_refusals_too_so_their_repeats_are_refused_alike() -> None:
    handler = CommandHandler(CountingStore(), FakeClock())
    outcomes = await asyncio.gather(
        *(handler.execute("CP1", start(f"cmd-{n}", tag=f"T{n}")) for n in range(4)),
        return_exceptions=True,
    )
    assert [type(o).__name__ for o in outcomes] == [
        "CommandResult",
        "ConnectorNotAvailableError",
        "ConnectorNotAvailableError",
        "ConnectorNotAvailableError",
    ]
    with pytest.raises(DomainError, match="held by remote start cmd-0"):
        await handler.execute("CP1", start("cmd-3", tag="T3"))


async def test_a_chain_that_meets_a_conflict_is_rerun_one_by_one_on_fresh_state() -> None:
    store = RacingChainStore(races=1)
    handler = CommandHandler(store, FakeClock())
    results = await asyncio.gather(
        *(handler.execute("CP1", start(f"cmd-{n}", connector=n)) for n in range(1, 6))
    )
    assert handler.conflicts == 1
    assert [len(r.events) for r in results] == [1, 1, 1, 1, 1]
    versions = [r.version for r in await store.read_stream("station-CP1")]
    assert versions == list(range(1, 7))  # the rival's event and ours, no gap


async def test_a_chain_holding_a_repeated_command_id_falls_back_and_answers_the_repeat() -> None:
    store = CountingStore()
    handler = CommandHandler(store, FakeClock())
    first = await handler.execute("CP1", reset("reset-1"))
    results = await asyncio.gather(
        handler.execute("CP1", start("cmd-1")),
        handler.execute("CP1", start("cmd-2", connector=2)),
        handler.execute("CP1", reset("reset-1")),
        handler.execute("CP1", start("cmd-3", connector=3)),
    )
    assert results[2].duplicate
    assert results[2].events == first.events
    assert [len(r.events) for r in results] == [1, 1, 1, 1]
    assert len(await store.read_stream("station-CP1")) == 4


async def test_a_store_without_chains_gets_one_append_per_command() -> None:
    store = SingleAppendStore()
    handler = CommandHandler(store, FakeClock())
    await asyncio.gather(
        *(handler.execute("CP1", start(f"cmd-{n}", connector=n)) for n in range(1, 6))
    )
    assert [r.version for r in await store.read_stream("station-CP1")] == [1, 2, 3, 4, 5]


async def test_a_cache_made_stale_by_another_process_is_caught_by_the_append() -> None:
    store = MemoryEventStore()
    ours, theirs = CommandHandler(store, FakeClock()), CommandHandler(store, FakeClock())
    await ours.execute("CP1", start("cmd-1", connector=1))
    await theirs.execute("CP1", start("cmd-2", connector=2, tag="B"))
    # Our cache still says version 1; the append says otherwise and the command reruns.
    with pytest.raises(ConnectorNotAvailableError):
        await ours.execute("CP1", start("cmd-3", connector=2, tag="C"))
    assert ours.conflicts == 1


async def test_exactly_one_of_competing_remote_starts_for_a_connector_wins() -> None:
    store = MemoryEventStore()
    handler = CommandHandler(store, FakeClock())
    outcomes = await asyncio.gather(
        *(handler.execute("CP1", start(f"cmd-{n}", tag=f"T{n}")) for n in range(16)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, ConnectorNotAvailableError) for o in outcomes if o not in winners)


async def test_a_caller_that_stops_waiting_does_not_stop_its_command() -> None:
    store = MemoryEventStore()
    handler = CommandHandler(store, FakeClock())
    waiting = asyncio.create_task(handler.execute("CP1", start("cmd-1")))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0.01)
    assert [r.event for r in await store.read_stream("station-CP1")] == [requested("cmd-1")]


async def test_an_unexpected_error_fails_only_its_command() -> None:
    handler = CommandHandler(MemoryEventStore(), FakeClock())
    bad = c.RecordOutcome("x", "cmd-1", "maybe")  # refused: no such command
    outcomes = await asyncio.gather(
        handler.execute("CP1", c.Command("plain")),  # no decision exists for a bare Command
        handler.execute("CP1", start("cmd-1")),
        handler.execute("CP1", bad),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], TypeError)
    assert not isinstance(outcomes[1], BaseException)
    assert isinstance(outcomes[2], DomainError)


async def test_a_flight_cancelled_at_shutdown_leaves_no_caller_waiting() -> None:
    class SlowStore(MemoryEventStore):
        async def append_chain(
            self, stream_id: str, appends: Sequence[CommandAppend], expected_version: int
        ) -> list[AppendResult]:
            await asyncio.sleep(10)
            raise AssertionError("never reached")

    handler = CommandHandler(SlowStore(), FakeClock())
    callers = [
        asyncio.create_task(handler.execute("CP1", start(f"c{n}", connector=n))) for n in (1, 2)
    ]
    await asyncio.sleep(0.01)
    for task in asyncio.all_tasks():
        if task.get_name() == "station-CP1":
            task.cancel()
    outcomes = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 1)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)


class ReadCountingStore(MemoryEventStore):
    """Counts the events each ``read_stream`` hands back."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[int] = []

    async def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        events = await super().read_stream(stream_id, from_version, to_version)
        self.read.append(len(events))
        return events


async def test_a_repeat_reads_the_first_handling_not_what_the_stream_gained_since() -> None:
    # Found by bench fuzz: every StartTransaction a station retransmitted read its stream
    # from the first handling to the end, so repeats cost the stream's length.
    store = ReadCountingStore()
    handler = CommandHandler(store, FakeClock())
    await handler.execute("CP1", start_transaction(7))
    for number in range(300):
        await handler.execute("CP1", reset(f"reset-{number}"))
    store.read.clear()
    again = await handler.execute("CP1", start_transaction(9))
    assert again.duplicate and again.events == [started(7)]
    assert sum(store.read) <= 2, store.read


class StreamReadCounter(MemoryEventStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        self.reads += 1
        return await super().read_stream(stream_id, from_version)


async def test_a_warmed_station_is_decided_without_another_read() -> None:
    store = StreamReadCounter()
    await CommandHandler(store, FakeClock()).execute("CP1", start("cmd-1", connector=1))
    handler = CommandHandler(store, FakeClock())  # another node: CP1 not in its cache
    store.reads = 0
    await handler.warm("CP1")
    await handler.warm("CP1")  # cached: no second read
    assert store.reads == 1
    with pytest.raises(ConnectorNotAvailableError):  # decided on the state read
        await handler.execute("CP1", start("cmd-2", connector=1, tag="B"))
    assert store.reads == 1 and handler.conflicts == 0


async def test_a_warm_that_reads_older_state_than_a_command_left_keeps_the_newer() -> None:
    store = MemoryEventStore()
    handler = CommandHandler(store, FakeClock())
    warming = asyncio.ensure_future(handler.warm("CP1"))  # reads the empty stream
    await handler.execute("CP1", start("cmd-1", connector=1))
    await warming
    with pytest.raises(ConnectorNotAvailableError):
        await handler.execute("CP1", start("cmd-2", connector=1, tag="B"))
    assert handler.conflicts == 0


async def test_a_station_held_elsewhere_is_topped_up_before_deciding_not_after_a_conflict() -> None:
    store = MemoryEventStore()
    poster, holder = CommandHandler(store, FakeClock()), CommandHandler(store, FakeClock())
    poster.held_elsewhere_with(lambda station_id: station_id == "CP1")
    await poster.execute("CP1", start("cmd-1", connector=1))
    await holder.execute("CP1", start("cmd-2", connector=2, tag="B"))  # the poster's cache: stale
    with pytest.raises(ConnectorNotAvailableError):  # decided on the state the holder left
        await poster.execute("CP1", start("cmd-3", connector=2, tag="C"))
    assert poster.conflicts == 0
    # A station not held elsewhere is still decided on the cache, checked by the append.
    await poster.execute("CP2", start("cmd-4", connector=1))
    await holder.execute("CP2", start("cmd-5", connector=2, tag="B"))
    with pytest.raises(ConnectorNotAvailableError):
        await poster.execute("CP2", start("cmd-6", connector=2, tag="C"))
    assert poster.conflicts == 1


async def test_a_stream_another_process_moved_is_topped_up_once_before_deciding() -> None:
    store = StreamReadCounter()
    ours, theirs = CommandHandler(store, FakeClock()), CommandHandler(store, FakeClock())
    await ours.execute("CP1", start("cmd-1", connector=1))
    await theirs.execute("CP1", start("cmd-2", connector=2, tag="B"))
    ours.moved("CP1")
    ours.moved("CP9")  # not cached here: nothing to top up
    store.reads = 0
    with pytest.raises(ConnectorNotAvailableError):
        await ours.execute("CP1", start("cmd-3", connector=2, tag="C"))
    await ours.execute("CP1", start("cmd-4", connector=3, tag="D"))  # the cache is fresh again
    assert ours.conflicts == 0 and store.reads == 1
