"""Writers that really race: 32 tasks in one process, and 4 OS processes of 8 tasks each.

Whatever the interleaving, every stream holds versions 1..n with no gap and no
duplicate, the losers of a race get ``VersionConflictError``, and a command id
sent by several racers at once is written once and recognised by the others.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from collections import Counter
from dataclasses import dataclass

from chargeledger.application.ports import ANY, EventStore, Metadata, VersionConflictError
from chargeledger.domain.events import CommandAccepted
from tests.integration.store.conftest import Backend, caught_up
from tests.stores import open_test_stores

TASKS = 32
PROCESSES = 4
TASKS_PER_PROCESS = 8


@dataclass
class Tally:
    appended: int = 0
    conflicts: int = 0
    duplicates: int = 0


def event(writer: str, n: int) -> CommandAccepted:
    return CommandAccepted(f"{writer}-{n}", {"writer": writer, "n": n})


async def append_until_done(
    store: EventStore, writer: str, streams: list[str], appends: int, seed: int
) -> Tally:
    """Read the version, append on it, retry on conflict, until ``appends`` succeeded."""
    pick = random.Random(seed)
    tally = Tally()
    while tally.appended < appends:
        stream = pick.choice(streams)
        recorded = await store.read_stream(stream)
        version = recorded[-1].version if recorded else 0
        try:
            await store.append(stream, [event(writer, tally.appended)], version, Metadata())
            tally.appended += 1
        except VersionConflictError as conflict:
            assert conflict.stream_id == stream and conflict.expected == version
            assert conflict.actual > version
            tally.conflicts += 1
    return tally


async def append_same_command(store: EventStore, stream: str, command_id: str) -> bool:
    """``True`` when this racer's append was the one written."""
    result = await store.append(
        stream, [event(command_id, 0)], ANY, Metadata(command_id=command_id)
    )
    return not result.duplicate


async def assert_gap_free(store: EventStore, streams: list[str], total: int) -> None:
    count = 0
    last = 0
    for stream in streams:
        recorded = await store.read_stream(stream)
        versions = [r.version for r in recorded]
        assert versions == list(range(1, len(versions) + 1)), stream
        count += len(versions)
        last = max([last, *(r.position for r in recorded)])
    assert count == total
    await caught_up(store, last)
    log = await store.read_all(0, limit=100_000)
    assert len(log) == total
    assert [r.position for r in log] == sorted({r.position for r in log})


async def test_32_tasks_on_one_stream_leave_versions_one_to_n(backend: Backend) -> None:
    """I1: 32 concurrent writers on one stream leave versions 1..n, no gap, no duplicate."""
    store, _ = await backend.open()
    tallies = await asyncio.gather(
        *(append_until_done(store, f"w{n}", ["hot"], 4, n) for n in range(TASKS))
    )
    await assert_gap_free(store, ["hot"], TASKS * 4)
    assert sum(t.conflicts for t in tallies) > 0, "the writers never raced"


async def test_32_tasks_on_many_streams_leave_every_stream_gap_free(backend: Backend) -> None:
    """I1: concurrent writers on many streams leave each stream 1..n, gap-free."""
    store, _ = await backend.open()
    streams = [f"s-{n}" for n in range(8)]
    tallies = await asyncio.gather(
        *(append_until_done(store, f"w{n}", streams, 5, n) for n in range(TASKS))
    )
    await assert_gap_free(store, streams, TASKS * 5)
    assert sum(t.conflicts for t in tallies) > 0, "the writers never raced"


async def test_32_tasks_sending_one_command_id_write_it_once(backend: Backend) -> None:
    """I2: one command id sent by 32 racers is written once; the others get the first result."""
    store, _ = await backend.open()
    for round_ in range(5):
        command_id = f"cmd-{round_}"
        written = await asyncio.gather(
            *(append_same_command(store, "s-1", command_id) for _ in range(TASKS))
        )
        assert written.count(True) == 1
    assert [r.version for r in await store.read_stream("s-1")] == [1, 2, 3, 4, 5]
    assert [r.metadata.command_id for r in await store.read_stream("s-1")] == [
        f"cmd-{n}" for n in range(5)
    ]


def _process(url: str, process: int) -> tuple[int, int, int]:
    """One OS process: 8 tasks on the hot stream, 8 on many streams, 8 on shared ids."""

    async def run() -> tuple[int, int, int]:
        store, _ = await open_test_stores(url)
        try:
            hot = asyncio.gather(
                *(
                    append_until_done(store, f"p{process}h{n}", ["hot"], 3, process * 100 + n)
                    for n in range(TASKS_PER_PROCESS)
                )
            )
            many = asyncio.gather(
                *(
                    append_until_done(store, f"p{process}m{n}", [f"s-{k}" for k in range(6)], 3, n)
                    for n in range(TASKS_PER_PROCESS)
                )
            )
            same = asyncio.gather(
                *(
                    append_same_command(store, f"ids-{k % 2}", f"shared-{k}")
                    for k in range(TASKS_PER_PROCESS)
                    for _ in range(2)
                )
            )
            hot_tallies, many_tallies, written = await asyncio.gather(hot, many, same)
            conflicts = sum(t.conflicts for t in [*hot_tallies, *many_tallies])
            return conflicts, written.count(True), len(written)
        finally:
            await store.close()

    return asyncio.run(run())


async def test_four_processes_racing_leave_no_gap_no_duplicate_and_one_write_per_id(
    durable: Backend,
) -> None:
    """I1, I2: four OS processes racing leave every stream 1..n and each command id written once."""
    assert durable.url is not None
    store, _ = await durable.open()  # creates the schema before the processes race
    # Few connections per process: the server is shared with every other test.
    url = durable.url + ("?pool_max=4" if durable.name == "postgres" else "")
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        outcomes = await asyncio.to_thread(
            pool.starmap, _process, [(url, p) for p in range(PROCESSES)]
        )
    hot_total = PROCESSES * TASKS_PER_PROCESS * 3
    await assert_gap_free(
        store,
        ["hot", *(f"s-{k}" for k in range(6)), "ids-0", "ids-1"],
        hot_total * 2 + TASKS_PER_PROCESS,
    )
    assert sum(conflicts for conflicts, _, _ in outcomes) > 0, "the processes never raced"
    # Each shared id was sent 2 x 4 times, by every process: written exactly once.
    assert sum(written for _, written, _ in outcomes) == TASKS_PER_PROCESS
    ids: Counter[str | None] = Counter()
    for stream in ("ids-0", "ids-1"):
        ids.update(r.metadata.command_id for r in await store.read_stream(stream))
    assert ids == Counter({f"shared-{k}": 1 for k in range(TASKS_PER_PROCESS)})
