"""Meter readings are merged into the stored document, never written over it: two
nodes that took readings of one session (a takeover) both count, in either order, and
a write retried after a commit in doubt counts nothing twice (issue 13, I8)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.adapters.sqlite_documents import SQLiteDocumentStore
from chargeledger.application.document_merges import DocumentMerge
from chargeledger.application.meter_documents import MeterDelta, merged_meters
from chargeledger.application.ports import DocumentWrite
from chargeledger.application.twin_service import METERS, TwinService
from tests.fakes import FakeClock


def _reading(second: int, wh: int) -> dict[str, Any]:
    return {
        "timestamp": f"2026-01-01T00:00:{second:02}Z",
        "sampledValue": [{"value": str(wh), "measurand": "Energy.Active.Import.Register"}],
    }


def _delta(number: int, *seconds: int, seq_no: int | None = None) -> MeterDelta:
    delta = MeterDelta(number, "CP1", 1, 42)
    delta.take([_reading(s, 100 * s) for s in seconds], seq_no)
    return delta


def test_two_writers_readings_add_up_in_either_order() -> None:
    first, second = [_delta(1, 1, 2)], [_delta(1, 3)]
    a_then_b = merged_meters(merged_meters(None, first, "A"), second, "B")
    b_then_a = merged_meters(merged_meters(None, second, "B"), first, "A")
    for doc in (a_then_b, b_then_a):
        assert doc["count"] == 3
        assert [row[0][-2:-1] for row in doc["series"]] == ["1", "2", "3"]
        assert doc["last"] == _reading(3, 300)  # the latest, though A wrote it last
    assert a_then_b["writers"] == {"A": 1, "B": 1}


def test_a_merge_retried_after_it_committed_counts_nothing_twice() -> None:
    deltas = [_delta(1, 1), _delta(2, 2)]
    once = merged_meters(None, deltas, "A")
    again = merged_meters(once, deltas, "A")
    assert once["count"] == again["count"] == 2
    later = merged_meters(again, [*deltas, _delta(3, 3)], "A")  # the retry and one more
    assert later["count"] == 3


def test_a_2_0_1_message_taken_on_both_nodes_counts_once() -> None:
    """A station that resends a TransactionEvent to its new node after a takeover: the
    seqNo the first node took is not counted again."""
    on_a = merged_meters(None, [_delta(1, 1, seq_no=5)], "A")
    on_b = merged_meters(on_a, [_delta(1, 1, seq_no=5), _delta(2, 2, seq_no=6)], "B")
    assert on_b["count"] == 2
    assert on_b["seq_nos"] == [5, 6]


def test_a_delta_repeats_no_seq_no_it_took() -> None:
    delta = _delta(1, 1, seq_no=5)
    delta.take([_reading(1, 100)], 5)
    assert merged_meters(None, [delta], "A")["count"] == 1


def test_joined_deltas_keep_every_reading() -> None:
    joined = _delta(1, 1).joined(_delta(2, 2, seq_no=7))
    doc = merged_meters(None, [joined], "A")
    assert (doc["count"], doc["writers"], len(doc["series"])) == (2, {"A": 2}, 2)


async def test_a_takeover_within_the_flush_interval_loses_no_reading() -> None:
    """Node A takes two readings, the station moves to node B, which takes one and
    writes first; A writes its two after. Both read three, from the store."""
    store = InMemoryDocumentStore()
    node_a, node_b = TwinService(store, FakeClock()), TwinService(store, FakeClock())
    await node_a.meter_values("CP1", 1, 42, [_reading(1, 100)])
    await node_a.meter_values("CP1", 1, 42, [_reading(2, 200)])
    await node_b.meter_values("CP1", 1, 42, [_reading(3, 300)])
    await node_b.flush()
    await node_a.flush()
    for node in (node_a, node_b):
        meters = await node.meters("CP1", 42)
        assert meters is not None and meters["count"] == 3
        assert meters["last"] == _reading(3, 300)
        assert len(meters["series"]) == 3


async def test_a_read_shows_the_readings_not_yet_written_once() -> None:
    store = InMemoryDocumentStore()
    twins = TwinService(store, FakeClock())
    await twins.meter_values("CP1", 1, 42, [_reading(1, 100)])
    await twins.flush()
    await twins.meter_values("CP1", 1, 42, [_reading(2, 200)])
    meters = await twins.meters("CP1", 42)
    assert meters is not None and meters["count"] == 2
    stored = await store.get(METERS, "CP1/tx/42")
    assert stored is not None and stored["count"] == 1


class CommitsThenFails(InMemoryDocumentStore):
    """A store whose first write commits and then reports a failure (a connection
    lost as the commit was acknowledged): the outcome is in doubt for the writer."""

    failed = False

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        await super().write(writes)
        if not self.failed:
            self.failed = True
            raise OSError("connection lost at commit")


async def test_a_flush_whose_commit_was_in_doubt_is_retried_without_counting_twice() -> None:
    store = CommitsThenFails()
    twins = TwinService(store, FakeClock())
    await twins.meter_values("CP1", 1, 42, [_reading(1, 100)])
    with pytest.raises(OSError, match="connection lost"):
        await twins.flush()
    await twins.meter_values("CP1", 1, 42, [_reading(2, 200)])
    assert (await twins.meters("CP1", 42) or {}).get("count") == 2
    assert await twins.flush() == 1
    stored = await store.get(METERS, "CP1/tx/42")
    assert stored is not None and stored["count"] == 2


async def test_unsaveable_readings_are_quarantined_and_the_others_saved(
    tmp_path: Path,
) -> None:
    database = SQLiteDatabase(tmp_path / "meters.db")
    try:
        twins = TwinService(SQLiteDocumentStore(database), FakeClock())
        poison = {"timestamp": "\ud800", "sampledValue": []}
        await twins.meter_values("POISON", 1, 1, [poison])
        await twins.meter_values("CP1", 1, 42, [_reading(1, 100)])
        assert await twins.flush() == 1
        assert [found.key for found in twins.quarantine.items()] == ["POISON/tx/1"]
        assert await twins.flush() == 0  # the poison is not retried forever
        meters = await twins.meters("CP1", 42)
        assert meters is not None and meters["count"] == 1
    finally:
        await database.close()


def test_merges_name_their_document() -> None:
    merge = DocumentMerge(METERS, "CP1/tx/42", lambda stored: {"count": 1})
    assert merge.merge(None) == {"count": 1}


def test_readings_of_a_message_sent_offline_mark_the_document_for_good() -> None:
    """OCPP 2.0.1: an Updated replayed with ``offline: true`` is telemetry; its meter
    document says so, whichever delta, join or writer brought it."""
    online = _delta(1, 1, seq_no=1)
    replayed = MeterDelta(2, "CP1", 1, 42)
    replayed.take([_reading(2, 200)], 2, offline=True)
    replayed.take([_reading(2, 200)], 2, offline=False)  # a repeat changes nothing
    assert "offline" not in merged_meters(None, [online], "A")
    assert merged_meters(None, [online, replayed], "A")["offline"] is True
    assert merged_meters(None, [online.joined(replayed)], "A")["offline"] is True
    stored = merged_meters(None, [replayed], "A")
    assert merged_meters(stored, [_delta(1, 3, seq_no=3)], "B")["offline"] is True
