"""The SQLite WAL stays bounded while writers never pause and readers never stop:
a busy node must not grow the file with every byte it ever wrote (invariant of
issue 14: the `-wal` file beside the database stays small under sustained load)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.application.ports import Metadata
from chargeledger.domain.events import CommandAccepted
from tests.stores import sqlite_event_store

SOFT_LIMIT = 256 * 1024
WRITTEN = 12 * 1024 * 1024
PAYLOAD = "x" * 2000


async def test_the_wal_is_reset_under_sustained_writes_and_reads(tmp_path: Path) -> None:
    database = SQLiteDatabase(
        tmp_path / "store.db", wal_soft_limit=SOFT_LIMIT, checkpoint_interval_s=0.05
    )
    store = sqlite_event_store(database)
    written = 0
    peak = 0
    done = asyncio.Event()

    async def writer(w: int) -> None:
        nonlocal written
        version = 0
        while written < WRITTEN:
            await store.append(
                f"s-{w}",
                [CommandAccepted(f"c-{w}-{version}", {"pad": PAYLOAD})],
                version,
                Metadata(command_id=f"c-{w}-{version}"),
            )
            version += 1
            written += len(PAYLOAD)

    async def reader() -> None:
        # Scans through the pool and point reads on the loop: readers are always in
        # the WAL, so it is never found idle by chance.
        while not done.is_set():
            await store.read_all(0, 200)
            await store.read_stream("s-1")
            await asyncio.sleep(0)

    async def sampler() -> None:
        nonlocal peak
        while not done.is_set():
            if database.wal_path.exists():
                peak = max(peak, database.wal_path.stat().st_size)
            await asyncio.sleep(0.01)

    started = time.monotonic()
    background = [asyncio.create_task(reader()) for _ in range(2)]
    background.append(asyncio.create_task(sampler()))
    try:
        await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(16))), timeout=120)
    finally:
        done.set()
        await asyncio.gather(*background)
        await store.close()
    assert time.monotonic() - started < 120
    assert database.wal_resets > 0
    # Far below what was written: a WAL that only grew would hold all of it.
    assert peak < WRITTEN / 2, f"WAL peaked at {peak:,} bytes for {WRITTEN:,} written"
