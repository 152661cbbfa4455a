"""Across nodes on PostgreSQL: a subscriber on one node hears of another node's appends
through LISTEN/NOTIFY, and a command id raced from two nodes is written once."""

from __future__ import annotations

import asyncio

from chargeledger.adapters.postgres_store import PostgresEventStore
from chargeledger.application.ports import NO_STREAM, Metadata, RecordedEvent
from chargeledger.domain.events import CommandAccepted
from tests.integration.store.held_commit import commits_held
from tests.stores import open_test_stores


def event(n: int) -> CommandAccepted:
    return CommandAccepted(f"cmd-{n}", {"n": n})


async def test_a_subscriber_on_another_node_is_woken_by_notify(postgres_dsn: str) -> None:
    writer, _ = await open_test_stores(postgres_dsn)
    reader, _ = await open_test_stores(postgres_dsn)
    received: list[RecordedEvent] = []
    got_all = asyncio.Event()

    async def subscriber() -> None:
        # A 30 s safety poll: within the test's time only a NOTIFY can wake it.
        async for page in reader.subscribe(0, safety_poll_s=30.0):
            received.extend(page)
            if len(received) == 3:
                got_all.set()

    following = asyncio.create_task(subscriber())
    try:
        await asyncio.sleep(0.2)  # the subscriber has read the empty log and waits
        for n in range(3):
            await writer.append(f"s-{n}", [event(n)], NO_STREAM, Metadata())
            await asyncio.sleep(0.05)
        await asyncio.wait_for(got_all.wait(), 10.0)
    finally:
        following.cancel()
        await reader.close()
        await writer.close()
    assert [r.event for r in received] == [event(0), event(1), event(2)]


async def test_a_duplicate_racing_an_uncommitted_first_append_answers_its_result(
    postgres_dsn: str,
) -> None:
    """I2: a repeat racing the uncommitted first append answers the first's result."""
    store, _ = await open_test_stores(postgres_dsn)
    other_node, _ = await open_test_stores(postgres_dsn)
    assert isinstance(store, PostgresEventStore)
    try:
        async with commits_held(postgres_dsn, "s-1") as held:
            first_append = asyncio.create_task(
                other_node.append("s-1", [event(1)], NO_STREAM, Metadata("cmd"))
            )
            await held.waiting()
            # The second writer (this node) meets the uncommitted key and waits.
            second = asyncio.create_task(
                store.append("s-1", [event(1)], NO_STREAM, Metadata("cmd"))
            )
            await asyncio.sleep(0.3)
            assert not second.done()
        first = await asyncio.wait_for(first_append, 10.0)
        repeat = await asyncio.wait_for(second, 10.0)
    finally:
        await store.close()
        await other_node.close()
    assert repeat.duplicate
    assert (repeat.version, repeat.last_position) == (first.version, first.last_position)
