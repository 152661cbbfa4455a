"""Read models from events: every command name, and the charging sessions."""

from __future__ import annotations

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.application.ports import Metadata, RecordedEvent
from chargeledger.application.projections import CommandAndStationProjection
from chargeledger.application.queries import Views
from chargeledger.application.read_model_documents import COMMANDS, TRANSACTIONS, transaction_key
from chargeledger.application.twin_service import TwinService
from chargeledger.domain import events as e
from chargeledger.domain.station import requested_event
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore
from tests.unit.domain.scenario import (
    AT,
    LATER,
    READING,
    availability,
    booted,
    remote_stop,
    reset,
    started,
    stopped,
    trigger,
    unlock,
)


def recorded(events: list[e.Event], stream: str = "station-CP1") -> list[RecordedEvent]:
    return [RecordedEvent(stream, n, n, event, Metadata()) for n, event in enumerate(events, 1)]


async def project(events: list[e.Event]) -> InMemoryDocumentStore:
    documents = InMemoryDocumentStore()
    projection = CommandAndStationProjection(documents)
    for one in recorded(events):  # one batch per event, as a slow log would deliver them
        await documents.write(await projection.writes_for([one]))
    return documents


async def test_each_command_name_gets_a_view_with_its_payload() -> None:
    commands = [remote_stop(), unlock(), reset(), availability(), trigger()]
    documents = await project([booted(), *(requested_event(cmd) for cmd in commands)])
    docs = {doc["name"]: doc["payload"] for doc in await documents.list(COMMANDS, tag="open")}
    assert docs == {
        "remote-stop": {"transaction_id": 7},
        "unlock-connector": {"connector_id": 1},
        "reset": {"type": "Soft"},
        "change-availability": {"connector_id": 0, "type": "Inoperative"},
        "trigger-message": {"requested_message": "StatusNotification", "connector_id": None},
    }


async def test_a_session_is_followed_from_start_to_stop() -> None:
    events: list[e.Event] = [
        booted(),
        started(7, meter_start=1000),
        e.MeterValuesRecorded(transaction_id=7, connector_id=1, meter_value=READING),
        stopped(7, meter_stop=5000),
    ]
    documents = await project(events)
    doc = await documents.get(TRANSACTIONS, transaction_key(7))
    assert doc is not None
    assert (doc["status"], doc["energy_wh"], doc["meter_value_count"]) == ("stopped", 4000, 1)
    assert doc["last_meter_value"] == READING[0]


async def test_sessions_are_listed_in_order_and_by_station() -> None:
    documents = InMemoryDocumentStore()
    projection = CommandAndStationProjection(documents)
    for stream, tx in (("station-A", 10), ("station-B", 9), ("station-A", 2)):
        batch = [RecordedEvent(stream, 1, tx, started(tx), Metadata())]
        await documents.write(await projection.writes_for(batch))
    views = Views(documents, TwinService(documents, FakeClock()), MemoryEventStore())
    assert [t["transaction_id"] for t in (await views.transactions(100)).items] == [2, 9, 10]
    by_station = await views.transactions(100, station_id="A")
    assert [t["transaction_id"] for t in by_station.items] == [2, 10]


async def test_an_abandoned_session_says_which_one_replaced_it() -> None:
    abandoned = e.TransactionAbandoned(transaction_id=7, connector_id=1, superseded_by=8)
    documents = await project([booted(), started(7), abandoned])
    doc = await documents.get(TRANSACTIONS, transaction_key(7))
    assert doc is not None
    assert (doc["status"], doc["abandoned_for"]) == ("abandoned", 8)


async def test_a_session_names_the_reservation_it_used_and_the_profile_it_runs_under() -> None:
    profile = {
        "charging_profile_id": 30,
        "transaction_id": 7,
        "stack_level": 1,
        "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 16}],
        },
    }
    events: list[e.Event] = [
        booted(),
        started(7),
        e.ReservationEnded(reservation_id=3, connector_id=1, reason="used", transaction_id=7),
        e.SetChargingProfileRequested(
            command_id="prof-1",
            requested_at=AT,
            expires_at=LATER,
            connector_id=1,
            cs_charging_profiles=profile,
        ),
        e.CommandAccepted(command_id="prof-1", result={"status": "Accepted"}),
    ]
    documents = await project(events)
    view = await Views(
        documents, TwinService(documents, FakeClock()), MemoryEventStore()
    ).transaction(7)
    assert view is not None
    assert (view["reservation_id"], view["charging_profile_id"]) == (3, 30)
    assert (view["status"], view["anomalies"], view["unconfirmed"]) == ("open", [], False)


async def test_commands_list_newest_first_filtered_and_paged() -> None:
    commands = [remote_stop(), unlock(), reset(), availability(), trigger()]
    documents = await project([booted(), *(requested_event(cmd) for cmd in commands)])
    views = Views(documents, TwinService(documents, FakeClock()), MemoryEventStore())
    first = await views.commands(limit=2)
    assert [c["name"] for c in first.items] == ["trigger-message", "change-availability"]
    rest = await views.commands(limit=10, after=first.next_after)
    assert [c["name"] for c in rest.items] == ["reset", "unlock-connector", "remote-stop"]
    assert rest.next_after is None
    resets = await views.commands(limit=10, name="reset", status="requested")
    assert [c["command_id"] for c in resets.items] == ["reset-1"]
    assert (await views.commands(limit=10, status="accepted")).items == []


def _started_201(offline: bool) -> e.TransactionStarted:
    return e.TransactionStarted(
        transaction_id=7,
        connector_id=1,
        id_tag="T",
        id_tag_status="Accepted",
        id_tag_expiry=None,
        meter_start=100,
        started_at=AT,
        station_transaction_id="TX-1",
        seq_no=0,
        offline=offline,
    )


def _stopped_201(offline: bool) -> e.TransactionStopped:
    return e.TransactionStopped(
        transaction_id=7,
        connector_id=1,
        meter_stop=900,
        stopped_at=LATER,
        station_transaction_id="TX-1",
        seq_no=3,
        offline=offline,
    )


async def test_a_2_0_1_session_shows_whether_a_message_of_it_was_sent_offline() -> None:
    """Given a 2.0.1 session, when its Started, its late Started or its Ended was sent
    offline, or an Updated (telemetry, in the twin), then its view says ``offline``;
    a 1.6 session's view has no such field."""
    corrected = e.TransactionStartCorrected(
        transaction_id=7,
        connector_id=1,
        meter_start=50,
        started_at=AT,
        station_transaction_id="TX-1",
        seq_no=0,
        offline=True,
    )
    cases: list[tuple[list[e.Event], bool]] = [
        ([_started_201(False), _stopped_201(False)], False),
        ([_started_201(True), _stopped_201(False)], True),
        ([_started_201(False), _stopped_201(True)], True),
        ([_started_201(False), corrected, _stopped_201(False)], True),
    ]
    for events, offline in cases:
        documents = await project([booted(), *events])
        twin = TwinService(documents, FakeClock())
        view = await Views(documents, twin, MemoryEventStore()).transaction(7)
        assert view is not None and view["status"] == "stopped"
        assert view["offline"] is offline, events
    documents = await project([booted(), _started_201(False)])
    twin = TwinService(documents, FakeClock())
    await twin.meter_values("CP1", 1, 7, READING, 1, offline=True)
    view = await Views(documents, twin, MemoryEventStore()).transaction(7)
    assert view is not None and view["offline"] is True
    documents = await project([booted(), started(7)])
    twin = TwinService(documents, FakeClock())
    old = await Views(documents, twin, MemoryEventStore()).transaction(7)
    assert old is not None and "offline" not in old
