"""SQLite group commit: appends that arrive together share one transaction and one
fsync, and each still stands or falls alone."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.application.ports import NO_STREAM, Metadata, VersionConflictError
from chargeledger.domain.events import CommandAccepted
from tests.stores import sqlite_event_store


def event(n: int) -> CommandAccepted:
    return CommandAccepted(f"cmd-{n}", {"n": n})


async def hold_the_writer(database: SQLiteDatabase, seconds: float) -> asyncio.Task[None]:
    """Keep the writer thread busy so that the next jobs queue up into one batch."""
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow(conn: sqlite3.Connection) -> None:
        loop.call_soon_threadsafe(started.set)
        time.sleep(seconds)

    task = asyncio.create_task(database.write(slow))
    await started.wait()
    return task


async def test_appends_arriving_together_commit_once_and_a_conflict_fails_alone(
    tmp_path: Path,
) -> None:
    database = SQLiteDatabase(tmp_path / "store.db")
    store = sqlite_event_store(database)
    try:
        await store.append("hot", [event(0)], NO_STREAM, Metadata())
        busy = await hold_the_writer(database, 0.3)
        commits = database.commits

        async def append(n: int) -> str:
            stream, expected = ("hot", NO_STREAM) if n % 8 == 0 else (f"s-{n}", NO_STREAM)
            try:
                await store.append(stream, [event(n)], expected, Metadata(command_id=f"c{n}"))
            except VersionConflictError:
                return "conflict"
            return "ok"

        outcomes = await asyncio.gather(*(append(n) for n in range(64)))
        await busy
        assert outcomes == ["conflict" if n % 8 == 0 else "ok" for n in range(64)]
        # The held batch, then all 64 appends in one more transaction.
        assert database.commits - commits == 2
        assert len(await store.read_all(0)) == 1 + 56
    finally:
        await store.close()


async def test_a_job_that_fails_after_writing_is_undone_alone(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "store.db")
    try:
        busy = await hold_the_writer(database, 0.2)

        def insert(name: str, fail: bool = False):  # type: ignore[no-untyped-def]
            def job(conn: sqlite3.Connection) -> str:
                conn.execute("INSERT INTO sequences (name, value) VALUES (?, 1)", (name,))
                if fail:
                    raise RuntimeError(f"{name} failed after writing")
                return name

            return job

        results = await asyncio.gather(
            database.write(insert("a")),
            database.write(insert("b", fail=True)),
            database.write(insert("c")),
            return_exceptions=True,
        )
        await busy
        assert results[0] == "a" and results[2] == "c"
        assert isinstance(results[1], RuntimeError)
        names = await database.read(
            lambda conn: [r[0] for r in conn.execute("SELECT name FROM sequences ORDER BY name")]
        )
        assert names == ["a", "c"]
    finally:
        await database.close()


async def test_an_append_the_file_refuses_fails_alone(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "store.db")
    store = sqlite_event_store(database)
    try:
        # A trigger that refuses one stream's rows stands for any error after writing.
        await database.write(
            lambda conn: conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON stream_commands "
                "WHEN NEW.stream_id = 'doomed' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
        busy = await hold_the_writer(database, 0.2)
        results = await asyncio.gather(
            store.append("fine-1", [event(1)], NO_STREAM, Metadata(command_id="a")),
            store.append("doomed", [event(2)], NO_STREAM, Metadata(command_id="b")),
            store.append("fine-2", [event(3)], NO_STREAM, Metadata(command_id="c")),
            return_exceptions=True,
        )
        await busy
        assert isinstance(results[1], sqlite3.IntegrityError)
        assert sorted(r.stream_id for r in await store.read_all(0)) == ["fine-1", "fine-2"]
        assert await store.read_stream("doomed") == []
    finally:
        await store.close()


@pytest.mark.parametrize("writers", [1, 16])
async def test_sequential_appends_from_each_writer_all_land(tmp_path: Path, writers: int) -> None:
    store = sqlite_event_store(SQLiteDatabase(tmp_path / "store.db"))
    try:

        async def writer(w: int) -> None:
            for n in range(20):
                await store.append(f"w-{w}", [event(n)], n, Metadata(command_id=f"{w}-{n}"))

        await asyncio.gather(*(writer(w) for w in range(writers)))
        for w in range(writers):
            assert [r.version for r in await store.read_stream(f"w-{w}")] == list(range(1, 21))
    finally:
        await store.close()
