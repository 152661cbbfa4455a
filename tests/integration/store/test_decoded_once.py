"""SQLite: the events a store appends are not decoded again by the log's followers in
this process, and what they read is what decoding the rows gives."""

from __future__ import annotations

from pathlib import Path

from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.adapters.sqlite_store import SQLiteEventStore
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.ports import CommandAppend, Metadata, RecordedEvent
from chargeledger.domain import commands as c
from chargeledger.domain.enums import Outcome
from chargeledger.domain.events import CommandAccepted, Event
from tests.fakes import FakeClock
from tests.stores import sqlite_event_store

AT = "2026-01-01T00:00:00+00:00"
LATER = "2026-01-01T00:10:00+00:00"


def _shown(recorded: list[RecordedEvent]) -> list[str]:
    """Every field and the type of each, so that a str is never taken for a closed set's
    member, nor a list for a tuple."""
    return [
        repr((r.stream_id, r.version, r.position, r.event, r.metadata))
        + repr([type(v) for v in vars(r.event).values()])
        for r in recorded
    ]


async def _command_flow(store: SQLiteEventStore) -> list[Event]:
    handler = CommandHandler(store, FakeClock())
    written: list[Event] = []
    for command in (
        c.RequestRemoteStart(
            command_id="k1", connector_id=1, id_tag="T", requested_at=AT, expires_at=LATER
        ),
        c.MarkDispatched("k1/dispatch/1", "k1", 1, 1, AT),
        c.RecordOutcome("k1/outcome", "k1", Outcome.ACCEPTED, {"status": "Accepted"}, "", "", AT),
    ):
        written += (await handler.execute("CP1", command)).events
    return written


async def test_followers_read_the_appended_events_without_decoding_them(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = sqlite_event_store(SQLiteDatabase(path))
    fresh = sqlite_event_store(SQLiteDatabase(path))
    try:
        written = await _command_flow(store)
        chained = [CommandAccepted("k2", {"status": "Accepted"})], [CommandAccepted("k3", {})]
        await store.append_chain(
            "station-CP2",
            [
                CommandAppend(events, Metadata(command_id=events[0].command_id))
                for events in chained
            ],
            0,
        )
        written += [event for events in chained for event in events]
        read = await store.read_all(0)
        assert [r.event for r in read] == written
        assert all(r.event is event for r, event in zip(read, written, strict=True))
        # What a store that never saw the appends decodes from the file, field for field.
        assert _shown(read) == _shown(await fresh.read_all(0))
    finally:
        await store.close()
        await fresh.close()
