"""The twin: telemetry lands in memory at once and reaches the database coalesced."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.adapters.sqlite_documents import SQLiteDocumentStore
from chargeledger.application.ports import DocumentWrite
from chargeledger.application.twin_service import TWINS, TwinService
from tests.fakes import FakeClock


class CountingDocumentStore(InMemoryDocumentStore):
    """The in-memory store, counting its write transactions."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions: list[int] = []

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        self.transactions.append(len(writes))
        await super().write(writes)


async def test_ten_thousand_heartbeats_make_one_transaction_per_flush() -> None:
    store = CountingDocumentStore()
    twins = TwinService(store, FakeClock())
    for beat in range(3):  # three heartbeat intervals of 10,000 stations
        for number in range(10_000):
            twins.heartbeat(f"CP-{number:05}", f"2026-01-01T00:00:0{beat}Z")
            twins.heartbeat(f"CP-{number:05}", f"2026-01-01T00:00:0{beat}Z")
        await twins.flush()
    assert store.transactions == [10_000, 10_000, 10_000]  # 60,000 heartbeats, 3 commits
    persisted = await store.get(TWINS, "CP-09999")
    assert persisted is not None and persisted["last_heartbeat"] == "2026-01-01T00:00:02Z"


async def test_the_writer_flushes_on_its_interval_while_heartbeats_arrive() -> None:
    store = CountingDocumentStore()
    twins = TwinService(store, FakeClock(), flush_interval_s=0.05)
    writer = asyncio.create_task(twins.run_writer())
    loop = asyncio.get_running_loop()
    started = loop.time()
    beats = 0
    # at least 0.3 s and 12,000 beats: a loaded machine takes longer, not fewer beats
    while loop.time() - started < 0.3 or beats < 12_000:
        for number in range(200):
            twins.heartbeat(f"CP-{number}", str(beats))
            beats += 1
        await asyncio.sleep(0.001)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    elapsed = loop.time() - started
    assert beats > 10_000
    assert len(store.transactions) <= elapsed / 0.05 + 2  # one per interval, plus the last
    assert max(store.transactions) <= 200
    persisted = await store.get(TWINS, "CP-0")
    assert persisted is not None and persisted["last_heartbeat"] == str(beats - 200)


async def test_nothing_changed_means_no_transaction() -> None:
    store = CountingDocumentStore()
    twins = TwinService(store, FakeClock())
    assert await twins.flush() == 0
    twins.heartbeat("CP-1", "t1")
    assert await twins.flush() == 1
    assert await twins.flush() == 0
    assert store.transactions == [1]


async def test_a_failed_flush_keeps_the_changes_for_the_next() -> None:
    class FailingOnce(CountingDocumentStore):
        failed = False

        async def write(self, writes: Sequence[DocumentWrite]) -> None:
            if not self.failed:
                self.failed = True
                raise OSError("disk full")
            await super().write(writes)

    store = FailingOnce()
    twins = TwinService(store, FakeClock())
    twins.status_notified("CP-1", 1, "Charging", "NoError")
    with pytest.raises(OSError, match="disk full"):
        await twins.flush()
    assert await twins.flush() == 1
    assert (await store.get(TWINS, "CP-1")) is not None


async def test_a_restart_shows_the_last_known_state_and_nobody_connected() -> None:
    store = InMemoryDocumentStore()
    before = TwinService(store, FakeClock())
    before.connected("CP-1", epoch=7)
    before.heartbeat("CP-1", "2026-01-01T00:00:00Z")
    before.status_notified("CP-1", 1, "Faulted", "GroundFailure", info="leak", timestamp="t")
    before.diagnostics_status_notified("CP-1", "Uploaded")
    before.firmware_status_notified("CP-1", "Installed")
    await before.flush()

    after = TwinService(store, FakeClock())
    await after.load()
    twin = after.get("CP-1")
    assert twin is not None
    assert twin.connected is False
    assert twin.last_heartbeat == "2026-01-01T00:00:00Z"
    assert twin.connector_status(1) == "Faulted"
    assert twin.connectors[1].info == "leak"
    assert (twin.diagnostics_status, twin.firmware_status) == ("Uploaded", "Installed")
    await after.flush()
    stored = await store.get(TWINS, "CP-1")
    assert stored is not None and stored["connected"] is False


async def test_a_late_close_of_an_older_connection_does_not_disconnect_the_newer() -> None:
    """I8: a late close of the older connection does not disconnect the newer."""
    twins = TwinService(InMemoryDocumentStore(), FakeClock())
    twins.connected("CP-1", epoch=1)
    twins.connected("CP-1", epoch=2)
    twins.disconnected("CP-1", epoch=1)
    twin = twins.get("CP-1")
    assert twin is not None and twin.connected
    twins.disconnected("CP-1", epoch=2)
    twin = twins.get("CP-1")
    assert twin is not None and not twin.connected


async def test_meter_readings_count_on_across_a_restart_and_stay_with_their_station() -> None:

    documents = InMemoryDocumentStore()
    reading = [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}]
    before = TwinService(documents, FakeClock())
    for _ in range(3):
        await before.meter_values("CP1", 1, 42, reading)
    await before.meter_values("EVIL", 1, 42, reading)  # another station names tx 42
    await before.flush()
    after = TwinService(documents, FakeClock())  # a restarted node
    await after.meter_values("CP1", 1, 42, reading)
    mine = await after.meters("CP1", 42)
    assert mine is not None and mine["count"] == 4
    theirs = await after.meters("EVIL", 42)
    assert theirs is not None and theirs["count"] == 1


async def test_a_twin_that_cannot_be_read_is_quarantined_and_the_others_load() -> None:
    store = InMemoryDocumentStore()
    connector = {"status": "Faulted", "error_code": "NoError"}
    await store.write(
        [
            DocumentWrite(TWINS, "GOOD", {"station_id": "GOOD", "connectors": {"1": connector}}),
            DocumentWrite(
                TWINS, "FLOAT", {"station_id": "FLOAT", "connectors": {"1.0": connector}}
            ),
            DocumentWrite(
                TWINS,
                "NUMBER",
                {"station_id": "NUMBER", "connectors": {"1": {**connector, "info": 5}}},
            ),
            DocumentWrite(TWINS, "EPOCH", {"station_id": "EPOCH", "connection_epoch": "soon"}),
        ]
    )
    twins = TwinService(store, FakeClock())
    await twins.load()
    assert [twin.station_id for twin in twins.all()] == ["GOOD"]
    assert twins.get("GOOD") is not None and twins.get("GOOD").connectors[1].status == "Faulted"  # type: ignore[union-attr]
    assert sorted(found.key for found in twins.quarantine.items()) == ["EPOCH", "FLOAT", "NUMBER"]
    kept = await store.get("quarantine", "twin/FLOAT")
    assert kept is not None and kept["doc"]["connectors"] == {"1.0": connector}


async def test_one_stations_unsaveable_data_never_fails_the_batch_of_others(
    tmp_path: Path,
) -> None:
    database = SQLiteDatabase(tmp_path / "twins.db")
    store = SQLiteDocumentStore(database)
    try:
        twins = TwinService(store, FakeClock())
        twins.status_notified("POISON", 1, "Available", "NoError", info="\ud800")
        twins.status_notified("OTHER", 1, "Faulted", "GroundFailure")
        assert await twins.flush() == 1
        other = await store.get(TWINS, "OTHER")
        assert other is not None and other["connectors"]["1"]["status"] == "Faulted"
        assert [found.key for found in twins.quarantine.items()] == ["POISON"]
        twins.heartbeat("OTHER", "2026-01-01T00:00:00Z")
        assert await twins.flush() == 1  # the poison is not retried forever
    finally:
        await database.close()
