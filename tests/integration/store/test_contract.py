"""The event store and document store contract, on memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from chargeledger.application.ports import (
    ANY,
    NO_STREAM,
    DocumentWrite,
    InvalidAppendError,
    Metadata,
    RecordedEvent,
    VersionConflictError,
)
from chargeledger.domain.events import CommandAccepted, Event, StationBooted
from tests.integration.store.conftest import Backend, caught_up


def event(n: int) -> CommandAccepted:
    return CommandAccepted(f"cmd-{n}", {"n": n})


async def test_appends_are_read_back_in_order(backend: Backend) -> None:
    store, _ = await backend.open()
    await store.append("s-1", [event(1), event(2)], NO_STREAM, Metadata(command_id="a"))
    await store.append("s-2", [event(3)], NO_STREAM, Metadata(command_id="b"))
    last = await store.append("s-1", [event(4)], 2, Metadata(command_id="c"))
    assert [r.event for r in await store.read_stream("s-1")] == [event(1), event(2), event(4)]
    assert [r.version for r in await store.read_stream("s-1")] == [1, 2, 3]
    assert [r.event for r in await store.read_stream("s-1", from_version=3)] == [event(4)]
    await caught_up(store, last.last_position)
    log = await store.read_all(0)
    assert [r.event for r in log] == [event(1), event(2), event(3), event(4)]
    assert [r.position for r in log] == sorted({r.position for r in log})
    assert [r.stream_id for r in await store.read_all(log[1].position, limit=1)] == ["s-2"]
    assert await store.head_position() == log[-1].position


async def test_pages_of_the_log_are_whole_at_any_size(backend: Backend) -> None:
    """A page is read in parts on some stores (SQLite: a few events on the event
    loop's thread, the rest in a reader thread); either way it holds what it must."""
    store, _ = await backend.open()
    last = None
    for n in range(100):
        last = await store.append(f"s-{n % 3}", [event(n)], ANY, Metadata())
    assert last is not None
    await caught_up(store, last.last_position)
    everything = await store.read_all(0, 1000)
    assert [r.event for r in everything] == [event(n) for n in range(100)]
    for size in (1, 31, 32, 33, 64, 99, 100):
        page = await store.read_all(0, size)
        assert page == everything[:size]
        rest = await store.read_all(page[-1].position, 1000)
        assert page + rest == everything
    # Read again, every event is still the event stored (decoded once or not).
    assert await store.read_all(0, 1000) == everything


async def test_an_append_reports_where_it_landed(backend: Backend) -> None:
    store, _ = await backend.open()
    result = await store.append("s-1", [event(1), event(2)], NO_STREAM, Metadata())
    recorded = await store.read_stream("s-1")
    assert (result.stream_id, result.version, result.duplicate) == ("s-1", 2, False)
    assert (result.first_position, result.last_position) == (
        recorded[0].position,
        recorded[1].position,
    )


async def test_metadata_is_kept_and_the_recording_time_filled_in(backend: Backend) -> None:
    store, _ = await backend.open()
    given = Metadata("cmd-1", "cause-1", "corr-1", "2026-01-01T00:00:00+00:00")
    await store.append("s-1", [event(1)], NO_STREAM, given)
    await store.append("s-1", [event(2)], 1, Metadata(command_id="cmd-2"))
    first, second = await store.read_stream("s-1")
    assert first.metadata == given
    assert second.metadata.command_id == "cmd-2"
    assert second.metadata.recorded_at is not None


@pytest.mark.parametrize(
    ("expected", "actual_before"),
    [(NO_STREAM, 1), (2, 1), (5, 3)],
    ids=["no-stream-on-an-existing-stream", "ahead-of-the-stream", "far-ahead"],
)
async def test_a_wrong_expected_version_raises_a_conflict_that_names_everything(
    backend: Backend, expected: int, actual_before: int
) -> None:
    store, _ = await backend.open()
    before = await store.append(
        "s-1", [event(n) for n in range(actual_before)], NO_STREAM, Metadata()
    )
    await caught_up(store, before.last_position)
    head = await store.head_position()
    with pytest.raises(VersionConflictError) as conflict:
        await store.append("s-1", [event(99)], expected, Metadata(command_id="late"))
    assert (conflict.value.stream_id, conflict.value.expected, conflict.value.actual) == (
        "s-1",
        expected,
        actual_before,
    )
    assert "s-1" in str(conflict.value)
    assert f"expected version {expected}" in str(conflict.value)
    assert len(await store.read_stream("s-1")) == actual_before
    assert await store.head_position() == head
    assert await store.find_command("s-1", "late") is None


async def test_a_stale_version_conflicts_once_another_writer_moved_on(backend: Backend) -> None:
    """I1: a writer behind the stream's version conflicts instead of writing a duplicate version."""
    store, _ = await backend.open()
    await store.append("s-1", [event(1)], NO_STREAM, Metadata())
    await store.append("s-1", [event(2)], 1, Metadata())
    with pytest.raises(VersionConflictError) as conflict:
        await store.append("s-1", [event(3)], 1, Metadata())
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)


async def test_any_appends_whatever_the_version(backend: Backend) -> None:
    store, _ = await backend.open()
    first = await store.append("s-1", [event(1)], ANY, Metadata())
    second = await store.append("s-1", [event(2), event(3)], ANY, Metadata())
    assert (first.version, second.version) == (1, 3)


async def test_a_repeated_command_id_writes_nothing_and_answers_the_first_result(
    backend: Backend,
) -> None:
    """I2: a repeated command id writes nothing and answers the first result."""
    store, _ = await backend.open()
    first = await store.append("s-1", [event(1)], NO_STREAM, Metadata(command_id="cmd"))
    await caught_up(store, first.last_position)
    head = await store.head_position()
    # The repeat carries the version it loaded then, now stale: still a duplicate.
    again = await store.append("s-1", [event(1)], NO_STREAM, Metadata(command_id="cmd"))
    assert again.duplicate
    assert (again.version, again.first_position, again.last_position) == (
        first.version,
        first.first_position,
        first.last_position,
    )
    assert len(await store.read_stream("s-1")) == 1
    assert await store.head_position() == head
    found = await store.find_command("s-1", "cmd")
    assert found is not None and found.duplicate and found.version == 1


async def test_a_command_id_is_scoped_to_its_stream(backend: Backend) -> None:
    store, _ = await backend.open()
    await store.append("s-1", [event(1)], NO_STREAM, Metadata(command_id="cmd"))
    other = await store.append("s-2", [event(2)], NO_STREAM, Metadata(command_id="cmd"))
    assert not other.duplicate
    assert await store.find_command("s-3", "cmd") is None


async def test_a_refusal_is_recorded_without_events_and_repeated(backend: Backend) -> None:
    store, _ = await backend.open()
    await store.append("s-1", [event(1)], NO_STREAM, Metadata())
    refusal = {"error": "ConnectorNotAvailable", "detail": "connector 1 is charging"}
    recorded = await store.append("s-1", [], 1, Metadata(command_id="refused"), refusal)
    assert (recorded.version, recorded.first_position, recorded.last_position) == (1, None, None)
    again = await store.append("s-1", [], 1, Metadata(command_id="refused"), {"other": 1})
    assert again.duplicate and again.outcome == refusal
    assert len(await store.read_stream("s-1")) == 1


async def test_the_whole_log_reads_in_pages_exactly_once(backend: Backend) -> None:
    """I6: the log read in pages gives every event once, in global order."""
    store, _ = await backend.open()
    for n in range(25):
        last = await store.append(f"s-{n % 4}", [event(n)], ANY, Metadata())
    await caught_up(store, last.last_position)
    seen: list[Event] = []
    position = 0
    while page := await store.read_all(position, limit=7):
        assert len(page) <= 7
        seen += [r.event for r in page]
        position = page[-1].position
    assert seen == [event(n) for n in range(25)]
    assert position == await store.head_position()


async def test_an_empty_store_has_nothing_to_read(backend: Backend) -> None:
    store, _ = await backend.open()
    assert await store.read_all(0) == []
    assert await store.read_stream("nothing") == []
    assert await store.head_position() == 0


async def test_a_subscriber_catches_up_then_follows_live(backend: Backend) -> None:
    """I6: a subscriber delivers every committed event in global order, old then live."""
    store, _ = await backend.open()
    await store.append("s-1", [event(1), event(2)], NO_STREAM, Metadata())
    received: list[Event] = []
    done = asyncio.Event()

    async def subscriber() -> None:
        async for page in store.subscribe(0, page_size=2, safety_poll_s=30.0):
            received.extend(r.event for r in page)
            if len(received) == 5:
                done.set()

    task = asyncio.create_task(subscriber())
    try:
        for n in range(3, 6):
            await asyncio.sleep(0.01)
            await store.append("s-2", [event(n)], ANY, Metadata())
        # The safety poll is 30 s: only a wake-up can deliver within the timeout.
        await asyncio.wait_for(done.wait(), 5.0)
    finally:
        task.cancel()
    assert received == [event(n) for n in range(1, 6)]


async def test_a_burst_of_appends_reaches_a_waiting_reader_in_one_read(backend: Backend) -> None:
    store, _ = await backend.open()
    first = await store.append("s-0", [event(0)], NO_STREAM, Metadata())
    await caught_up(store, first.last_position)
    head = await store.head_position()
    burst = await asyncio.gather(
        *(store.append(f"s-{n}", [event(n)], ANY, Metadata()) for n in range(50))
    )
    # The safety poll is 30 s: only the burst's wake-up can end the wait in time.
    await asyncio.wait_for(store.wait_for_events(head, 30.0), 5.0)
    await caught_up(store, max(r.last_position or 0 for r in burst))
    assert len(await store.read_all(head, limit=1000)) == 50


async def test_waiting_with_nothing_new_ends_at_the_timeout(backend: Backend) -> None:
    store, _ = await backend.open()
    first = await store.append("s-1", [event(1)], NO_STREAM, Metadata())
    await caught_up(store, first.last_position)
    head = await store.head_position()
    started = asyncio.get_running_loop().time()
    await store.wait_for_events(head, 0.2)
    assert asyncio.get_running_loop().time() - started >= 0.15


@dataclass(frozen=True)
class Unregistered(Event):
    note: str


@pytest.mark.parametrize(
    ("stream_id", "events", "expected", "complaint"),
    [
        ("", [event(1)], NO_STREAM, "stream id"),
        ("s-1", [event(1)], -2, "expected version"),
        ("s-1", ["not an event"], NO_STREAM, "not an Event"),
        ("s-1", [Unregistered("x")], NO_STREAM, "not registered"),
        ("s-1", [CommandAccepted("c", {"when": object()})], NO_STREAM, "JSON"),
        ("s-1", [CommandAccepted("c", {"n": float("nan")})], NO_STREAM, "JSON"),
    ],
    ids=["empty-stream", "bad-version", "not-an-event", "unknown-type", "object", "nan"],
)
async def test_bad_input_is_refused_clearly_and_writes_nothing(
    backend: Backend, stream_id: str, events: list[Event], expected: int, complaint: str
) -> None:
    store, _ = await backend.open()
    first = await store.append("s-0", [event(0)], NO_STREAM, Metadata())
    with pytest.raises(InvalidAppendError, match=complaint):
        await store.append(stream_id, events, expected, Metadata(command_id="bad"))
    await caught_up(store, first.last_position)
    assert [r.event for r in await store.read_all(0)] == [event(0)]
    assert await store.find_command("s-1", "bad") is None
    second = await store.append("s-1", [event(1)], NO_STREAM, Metadata(command_id="bad"))
    await caught_up(store, second.last_position)
    assert len(await store.read_all(0)) == 2


async def test_documents_are_written_listed_and_deleted(backend: Backend) -> None:
    # "thing": a model without a shape (quarantine.SHAPES), whose documents are opaque.
    _, docs = await backend.open()
    await docs.write(
        [
            DocumentWrite("thing", "b", {"id": "b", "n": 2}),
            DocumentWrite("thing", "a", {"id": "a", "nested": {"x": [1, 2]}}, tag="open"),
            DocumentWrite("command", "a", {"id": "cmd"}),
        ]
    )
    assert await docs.get("thing", "a") == {"id": "a", "nested": {"x": [1, 2]}}
    assert await docs.get("thing", "zzz") is None
    assert [d["id"] for d in await docs.list("thing")] == ["a", "b"]
    assert [d["id"] for d in await docs.list("thing", tag="open")] == ["a"]
    await docs.write([DocumentWrite("thing", "a", None), DocumentWrite("thing", "b", {"n": 3})])
    assert await docs.list("thing") == [{"n": 3}]
    # Only the last write of a key counts; a batch of deletes alone, or of upserts alone.
    await docs.write([DocumentWrite("thing", "c", {"n": 1}), DocumentWrite("thing", "c", {"n": 4})])
    assert await docs.get("thing", "c") == {"n": 4}
    await docs.write([DocumentWrite("thing", "b", None), DocumentWrite("thing", "gone", None)])
    assert await docs.list("thing") == [{"n": 4}]


async def test_documents_read_together_each_get_their_own(backend: Backend) -> None:
    """Gets at the same moment (PostgreSQL sends them as one statement) each answer
    for their own key, a repeated key and a missing one included."""
    _, docs = await backend.open()
    await docs.write([DocumentWrite("thing", f"k{n}", {"id": f"k{n}", "n": n}) for n in range(300)])
    keys = [f"k{n}" for n in range(300)] + ["k7", "missing", "k7"]
    found = await asyncio.gather(*(docs.get("thing", key) for key in keys))
    assert found[:300] == [{"id": f"k{n}", "n": n} for n in range(300)]
    assert found[300:] == [{"id": "k7", "n": 7}, None, {"id": "k7", "n": 7}]
    await docs.write([DocumentWrite("thing", "k7", {"id": "k7", "n": -1})])
    again = await asyncio.gather(docs.get("thing", "k7"), docs.get("other", "k7"))
    assert again == [{"id": "k7", "n": -1}, None]


async def test_documents_page_by_key_after_a_cursor_either_way(backend: Backend) -> None:
    _, docs = await backend.open()
    await docs.write(
        [
            DocumentWrite("command", f"k{i}", {"i": i}, tag="even" if i % 2 == 0 else None)
            for i in range(7)
        ]
        + [DocumentWrite("other", "k0", {"i": -1})]
    )
    first = await docs.page("command", limit=3)
    assert first == [("k0", {"i": 0}), ("k1", {"i": 1}), ("k2", {"i": 2})]
    rest = await docs.page("command", limit=10, after="k2")
    assert [key for key, _ in rest] == ["k3", "k4", "k5", "k6"]
    newest = await docs.page("command", limit=2, descending=True)
    assert [key for key, _ in newest] == ["k6", "k5"]
    older = await docs.page("command", limit=10, after="k5", descending=True)
    assert [key for key, _ in older] == ["k4", "k3", "k2", "k1", "k0"]
    tagged = await docs.page("command", limit=10, tag="even", after="k2")
    assert [key for key, _ in tagged] == ["k4", "k6"]
    assert await docs.page("command", limit=5, after="k6") == []


async def test_a_batch_and_its_checkpoint_commit_together(backend: Backend) -> None:
    _, docs = await backend.open()
    assert await docs.checkpoint("views") == 0
    await docs.commit_batch("views", 7, [DocumentWrite("thing", "a", {"v": 1})])
    assert await docs.checkpoint("views") == 7
    with pytest.raises((TypeError, ValueError)):
        await docs.commit_batch(
            "views",
            9,
            [DocumentWrite("thing", "a", {"v": 2}), DocumentWrite("thing", "b", {"x": {1}})],
        )
    assert await docs.checkpoint("views") == 7
    assert await docs.get("thing", "a") == {"v": 1}
    assert await docs.get("thing", "b") is None


async def test_sequences_hand_out_unique_increasing_numbers(backend: Backend) -> None:
    _, docs = await backend.open()
    numbers = await asyncio.gather(*(docs.next_in_sequence("tx") for _ in range(40)))
    assert sorted(numbers) == list(range(1, 41))
    assert await docs.next_in_sequence("other") == 1


async def test_a_conflict_among_concurrent_appends_fails_only_itself(backend: Backend) -> None:
    store, _ = await backend.open()
    await store.append("hot", [event(0)], NO_STREAM, Metadata())

    positions: list[int] = []

    async def append(n: int) -> str:
        stream, expected = ("hot", 0) if n % 4 == 0 else (f"cold-{n}", NO_STREAM)
        try:
            done = await store.append(stream, [event(n)], expected, Metadata(f"c-{n}"))
        except VersionConflictError:
            return "conflict"
        positions.append(done.last_position or 0)
        return "ok"

    outcomes = await asyncio.gather(*(append(n) for n in range(64)))
    assert outcomes == ["conflict" if n % 4 == 0 else "ok" for n in range(64)]
    await caught_up(store, max(positions))
    assert len(await store.read_all(0)) == 1 + 48


async def test_what_was_appended_is_there_after_reopening(durable: Backend) -> None:
    store, docs = await durable.open()
    await store.append("s-1", [event(1)], NO_STREAM, Metadata(command_id="a"))
    await docs.commit_batch("views", 1, [DocumentWrite("thing", "a", {"v": 1})])
    await store.close()
    durable.opened.remove(store)
    reopened, docs = await durable.open()
    assert [r.event for r in await reopened.read_stream("s-1")] == [event(1)]
    assert (await reopened.find_command("s-1", "a")) is not None
    assert await docs.checkpoint("views") == 1
    with pytest.raises(VersionConflictError):
        await reopened.append("s-1", [event(2)], NO_STREAM, Metadata())


async def test_an_event_with_a_null_field_reads_back_equal(
    backend: Backend,
) -> None:
    store, _ = await backend.open()
    booted = StationBooted("CP-1", "Accepted", "v", "m", None, "2026-01-01T00:00:00+00:00")
    await store.append("station-CP-1", [booted], NO_STREAM, Metadata())
    assert [r.event for r in await store.read_stream("station-CP-1")] == [booted]


async def test_an_idle_subscriber_does_not_poll_the_store(backend: Backend) -> None:
    store, _ = await backend.open()
    calls: list[str] = []
    read_all, head_position = store.read_all, store.head_position

    async def counting_read_all(after_position: int, limit: int = 1000) -> list[RecordedEvent]:
        calls.append("read_all")
        return await read_all(after_position, limit)

    async def counting_head_position() -> int:
        calls.append("head_position")
        return await head_position()

    store.read_all = counting_read_all  # type: ignore[method-assign]
    store.head_position = counting_head_position  # type: ignore[method-assign]

    async def subscriber() -> None:
        async for _ in store.subscribe(0, safety_poll_s=30.0):
            pass

    following = asyncio.create_task(subscriber())
    await asyncio.sleep(0.5)
    following.cancel()
    assert calls == ["read_all"], "an idle subscriber reads once, then waits"
