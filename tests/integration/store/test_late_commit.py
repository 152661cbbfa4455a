"""PostgreSQL positions come from transactions that commit in any order. A subscriber
must still deliver every event in order and never skip one that committed late."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from chargeledger.adapters.postgres_store import PostgresEventStore
from chargeledger.application.ports import NO_STREAM, Metadata, RecordedEvent
from chargeledger.domain.events import CommandAccepted
from tests.integration.store.conftest import caught_up
from tests.integration.store.held_commit import commits_held
from tests.stores import open_test_stores


def event(n: int) -> CommandAccepted:
    return CommandAccepted(f"cmd-{n}", {"n": n})


async def until(check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_subscriber_delivers_a_late_commit_in_order_and_skips_nothing(
    postgres_dsn: str,
) -> None:
    """I6: a PostgreSQL append that commits after a later position is still delivered, in order."""
    store, _ = await open_test_stores(postgres_dsn)
    assert isinstance(store, PostgresEventStore)
    received: list[RecordedEvent] = []

    async def subscriber() -> None:
        # A short safety poll: the subscriber keeps looking while the append is held.
        async for page in store.subscribe(0, page_size=100, safety_poll_s=0.02):
            received.extend(page)

    running = asyncio.create_task(subscriber())
    try:
        await store.append("before", [event(0)], NO_STREAM, Metadata())
        await until(lambda: len(received) == 1)
        async with commits_held(postgres_dsn, "late") as held:
            held_append = asyncio.create_task(
                store.append("late", [event(1)], NO_STREAM, Metadata())
            )
            await held.waiting()
            later = [
                await store.append(f"after-{n}", [event(n)], NO_STREAM, Metadata())
                for n in range(2, 7)
            ]
            # The later appends are committed (a stream read sees them) ...
            assert len(await store.read_stream("after-6")) == 1
            await asyncio.sleep(0.5)
            # ... but nothing past the open transaction reached the subscriber.
            assert [r.stream_id for r in received] == ["before"]
            assert await store.head_position() == received[0].position
        # The late transaction commits now, after all the others.
        late = await asyncio.wait_for(held_append, 10.0)
        await until(lambda: len(received) == 7)
    finally:
        running.cancel()
        await store.close()
    assert [r.stream_id for r in received] == [
        "before",
        "late",
        *(f"after-{n}" for n in range(2, 7)),
    ]
    positions = [r.position for r in received]
    assert positions == sorted(set(positions))
    assert received[1].position == late.last_position
    assert [r.position for r in received[2:]] == [a.last_position for a in later]


async def test_a_held_append_does_not_block_writers_of_other_streams(postgres_dsn: str) -> None:
    store, _ = await open_test_stores(postgres_dsn)
    assert isinstance(store, PostgresEventStore)
    try:
        async with commits_held(postgres_dsn, "held") as held:
            held_append = asyncio.create_task(
                store.append("held", [event(1)], NO_STREAM, Metadata())
            )
            await held.waiting()
            appends = [
                store.append(f"free-{n}", [event(n)], NO_STREAM, Metadata()) for n in range(20)
            ]
            done = await asyncio.wait_for(asyncio.gather(*appends), 5.0)
            assert len(done) == 20
            await held.cancel()
            with pytest.raises(psycopg.errors.QueryCanceled):
                await asyncio.wait_for(held_append, 10.0)
        await caught_up(store, max(r.last_position or 0 for r in done))
        # The rolled-back append left nothing, and the log reads on past its position.
        assert await store.read_stream("held") == []
        log = await store.read_all(0)
        assert sorted(r.stream_id for r in log) == sorted(f"free-{n}" for n in range(20))
    finally:
        await store.close()
