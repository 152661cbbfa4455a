"""The SQLite store on a real file: appends, reads, and writers that really race."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.adapters.sqlite_store import SQLiteEventStore
from chargeledger.application.ports import NO_STREAM, Metadata, VersionConflictError
from chargeledger.domain.events import CommandAccepted


def event(n: int) -> CommandAccepted:
    return CommandAccepted(f"cmd-{n}", {"n": n})


async def open_store(path: Path) -> SQLiteEventStore:
    return SQLiteEventStore(SQLiteDatabase(path))


async def test_appends_are_read_back_in_order(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "log.db")
    try:
        await store.append("s-1", [event(1), event(2)], NO_STREAM, Metadata(command_id="a"))
        await store.append("s-2", [event(3)], NO_STREAM, Metadata(command_id="b"))
        await store.append("s-1", [event(4)], 2, Metadata(command_id="c"))
        assert [r.event for r in await store.read_stream("s-1")] == [event(1), event(2), event(4)]
        assert [r.position for r in await store.read_all(0)] == [1, 2, 3, 4]
        assert [r.stream_id for r in await store.read_all(2, limit=1)] == ["s-2"]
        assert await store.head_position() == 4
    finally:
        await store.close()


async def test_a_stale_expected_version_raises_a_conflict_that_names_the_stream(
    tmp_path: Path,
) -> None:
    store = await open_store(tmp_path / "log.db")
    try:
        await store.append("s-1", [event(1)], NO_STREAM, Metadata())
        with pytest.raises(VersionConflictError) as conflict:
            await store.append("s-1", [event(2)], NO_STREAM, Metadata())
        assert (conflict.value.stream_id, conflict.value.expected, conflict.value.actual) == (
            "s-1",
            0,
            1,
        )
    finally:
        await store.close()


async def test_an_append_survives_reopening_the_file(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "log.db")
    await store.append("s-1", [event(1)], NO_STREAM, Metadata(command_id="a"))
    await store.close()
    reopened = await open_store(tmp_path / "log.db")
    try:
        assert [r.event for r in await reopened.read_stream("s-1")] == [event(1)]
        assert (await reopened.find_command("s-1", "a")) is not None
    finally:
        await reopened.close()


async def test_racing_tasks_win_exactly_one_append_per_version(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "log.db")
    try:

        async def writer(n: int) -> bool:
            try:
                await store.append("hot", [event(n)], NO_STREAM, Metadata())
                return True
            except VersionConflictError:
                return False

        wins = await asyncio.gather(*(writer(n) for n in range(32)))
        assert wins.count(True) == 1
        assert [r.version for r in await store.read_stream("hot")] == [1]
    finally:
        await store.close()


def _append_until_done(path: str, writer: int, appends: int) -> int:
    async def run() -> int:
        store = await open_store(Path(path))
        conflicts = 0
        done = 0
        try:
            while done < appends:
                version = len(await store.read_stream("hot"))
                try:
                    await store.append("hot", [event(writer * 1000 + done)], version, Metadata())
                    done += 1
                except VersionConflictError:
                    conflicts += 1
        finally:
            await store.close()
        return conflicts

    return asyncio.run(run())


def test_two_processes_racing_on_one_stream_leave_no_gap_and_no_duplicate(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "log.db")
    asyncio.run(_create(path))
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        pool.starmap(_append_until_done, [(path, 1, 60), (path, 2, 60)])

    async def versions() -> list[int]:
        store = await open_store(Path(path))
        try:
            return [r.version for r in await store.read_stream("hot")]
        finally:
            await store.close()

    assert asyncio.run(versions()) == list(range(1, 121))


async def _create(path: str) -> None:
    store = await open_store(Path(path))
    await store.close()
