"""The followers of the log share its reads (``SharedLogReads``), and each still gets
every event after its own position, in order, none skipped, and an empty answer only
from a read that started after it asked."""

from __future__ import annotations

import asyncio
import random

from chargeledger.adapters.memory import InMemoryEventStore
from chargeledger.application.ports import ANY, Metadata, RecordedEvent
from chargeledger.application.shared_log import SharedLogReads
from chargeledger.domain.events import CommandAccepted
from tests.stores import MemoryEventStore


class CountingLog(MemoryEventStore):
    """Counts the reads of the whole log; ``gate``, when set, holds each read's answer
    (taken when it started) until it is set: a query in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[int, int]] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def read_all(self, after_position: int, limit: int = 1000) -> list[RecordedEvent]:
        self.reads.append((after_position, limit))
        self.started.set()
        page = await super().read_all(after_position, limit)
        if self.gate is not None:
            await self.gate.wait()
        return page


async def append(log: InMemoryEventStore, count: int = 1) -> None:
    events = [CommandAccepted(f"c{i}", {}) for i in range(count)]
    await log.append("s", events, ANY, Metadata())


def positions(page: list[RecordedEvent]) -> list[int]:
    return [recorded.position for recorded in page]


async def test_followers_woken_together_share_one_read() -> None:
    inner = CountingLog()
    shared = SharedLogReads(inner)
    assert await shared.read_all(0, 500) == []  # the first reads on its own
    await append(inner, 3)
    pages = await asyncio.gather(*(shared.read_all(0, 500) for _ in range(4)))
    assert [positions(page) for page in pages] == [[1, 2, 3]] * 4
    assert len(inner.reads) == 2
    assert pages[0][0] is pages[1][0]  # decoded once, handed to each


async def test_a_follower_a_little_behind_reads_from_the_window_without_a_query() -> None:
    inner = CountingLog()
    shared = SharedLogReads(inner)
    await append(inner, 5)
    assert positions(await shared.read_all(0, 500)) == [1, 2, 3, 4, 5]
    reads = len(inner.reads)
    assert positions(await shared.read_all(2, 500)) == [3, 4, 5]
    assert positions(await shared.read_all(1, 2)) == [2, 3]
    assert len(inner.reads) == reads


async def test_a_follower_behind_the_window_or_ahead_of_it_reads_on_its_own() -> None:
    inner = CountingLog()
    shared = SharedLogReads(inner, window_events=4)
    await append(inner, 10)
    assert positions(await shared.read_all(6, 500)) == [7, 8, 9, 10]
    assert inner.reads[-1] == (6, 500)
    assert positions(await shared.read_all(2, 3)) == [3, 4, 5]  # behind: its own read
    assert inner.reads[-1] == (2, 3)
    await append(inner, 2)
    assert positions(await shared.read_all(11, 500)) == [12]  # ahead: its own read
    assert inner.reads[-1] == (11, 500)
    # The window moved up: one behind it reads on its own until it gets there.
    assert positions(await shared.read_all(9, 500)) == [10, 11, 12]
    assert inner.reads[-1] == (9, 500)
    reads = len(inner.reads)
    assert positions(await shared.read_all(11, 500)) == [12]
    assert len(inner.reads) == reads


async def test_a_query_sent_before_a_follower_asked_does_not_answer_it_empty() -> None:
    inner = CountingLog()
    shared = SharedLogReads(inner)
    assert await shared.read_all(0, 500) == []
    inner.gate, inner.started = asyncio.Event(), asyncio.Event()
    first = asyncio.ensure_future(shared.read_all(0, 500))
    await inner.started.wait()  # the shared query is in flight, and found nothing new
    await append(inner)  # committed after the query started, before the next ask
    second = asyncio.ensure_future(shared.read_all(0, 500))
    await asyncio.sleep(0)
    inner.gate.set()
    assert await first == [] and positions(await second) == [1]


async def test_a_page_larger_than_a_follower_asked_for_is_cut_to_its_limit() -> None:
    inner = CountingLog()
    shared = SharedLogReads(inner)
    await shared.read_all(0, 10)
    await append(inner, 6)
    small, large = await asyncio.gather(shared.read_all(0, 2), shared.read_all(0, 10))
    assert positions(small) == [1, 2] and positions(large) == [1, 2, 3, 4, 5, 6]


async def test_a_failed_shared_read_reaches_each_follower_that_asked() -> None:
    class Failing(CountingLog):
        async def read_all(self, after_position: int, limit: int = 1000) -> list[RecordedEvent]:
            if self.gate is not None:
                raise OSError("the disk is gone")
            return await super().read_all(after_position, limit)

    inner = Failing()
    shared = SharedLogReads(inner)
    await shared.read_all(0, 10)
    inner.gate = asyncio.Event()
    results = await asyncio.gather(
        shared.read_all(0, 10), shared.read_all(0, 10), return_exceptions=True
    )
    assert [type(result) for result in results] == [OSError, OSError]
    inner.gate = None
    await append(inner)
    assert positions(await shared.read_all(0, 10)) == [1]


async def test_every_follower_sees_the_whole_log_in_order_whatever_the_interleaving() -> None:
    for seed in range(20):
        await one_interleaving(seed)


async def one_interleaving(seed: int) -> None:
    rng = random.Random(seed)
    inner = MemoryEventStore()
    shared = SharedLogReads(inner, window_events=rng.choice([3, 16, 4096]))
    total = 0
    done = asyncio.Event()

    async def writer() -> None:
        nonlocal total
        for _ in range(60):
            count = rng.randint(1, 4)
            await append(inner, count)
            total += count
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
        done.set()

    async def follower(start: int, page: int) -> list[int]:
        seen: list[int] = []
        position = start
        while True:
            head = len(inner.log)
            batch = await shared.read_all(position, page)
            if not batch:
                assert position >= head, "an empty answer from a read sent before"
                if done.is_set() and position >= total:
                    return seen
                await shared.wait_for_events(position, 0.01)
                continue
            seen += positions(batch)
            position = batch[-1].position
            for _ in range(rng.randint(0, 2)):
                await asyncio.sleep(0)

    starts = [0, 0, 0, rng.randint(0, 5)]
    followers = [follower(start, rng.choice([1, 2, 5, 500])) for start in starts]
    *seen, _ = await asyncio.gather(*followers, writer())
    for start, got in zip(starts, seen, strict=True):
        assert got == list(range(start + 1, total + 1)), seed


async def test_the_window_keeps_the_newest_events_and_forgets_the_oldest() -> None:
    inner = CountingLog()
    shared = SharedLogReads(inner, window_events=2)
    await append(inner, 10)
    assert len(await shared.read_all(0, 500)) == 10  # more than twice the window: cut
    reads = len(inner.reads)
    assert positions(await shared.read_all(8, 500)) == [9, 10]
    assert len(inner.reads) == reads
    assert positions(await shared.read_all(7, 500)) == [8, 9, 10]  # forgotten: its own
    assert len(inner.reads) == reads + 1
