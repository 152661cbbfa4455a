"""What a simulated 2.0.1 station answers each CSMS-initiated message, and what it
sends after: every answer and every message it sends valid against the 2.0.1 schemas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import pytest
from ocpp.charge_point import remove_nones, snake_to_camel_case
from ocpp.messages import Call, CallResult, validate_payload

from chargeledger.simulator import operations201
from chargeledger.simulator.charger import PROTOCOL_201, Charger
from chargeledger.simulator.charger_parts import Behaviour
from chargeledger.simulator.smart_charging201 import composite_schedule
from chargeledger.simulator.station201 import SimulatedStation201

TOKEN = {"id_token": "DRIVER", "type": "ISO14443"}


def _wire(message: Any) -> dict[str, Any]:
    said: dict[str, Any] = snake_to_camel_case(remove_nones(asdict(message)))
    return said


class Recorded(SimulatedStation201):
    """The station with its CALLs recorded (each checked against its schema) instead of
    sent, and each answer of ``ask`` checked against its schema."""

    def __init__(self, charger: Charger) -> None:
        super().__init__(charger, connection=None)
        self.sent: list[Any] = []

        async def record(message: Any, *_: Any, **__: Any) -> None:
            action = type(message).__name__
            await validate_payload(Call("1", action, _wire(message)), "2.0.1")
            self.sent.append(message)

        self.call = record

    async def ask(self, handler: str, **payload: Any) -> Any:
        answer = await getattr(self, f"on_{handler}")(**payload)
        action = type(answer).__name__
        await validate_payload(CallResult("1", _wire(answer), action), "2.0.1")
        follow_up = getattr(self, f"after_{handler}", None)
        if follow_up is not None:
            await follow_up(**payload)
        await asyncio.gather(*self._background)
        return answer

    def sent_of(self, action: str) -> list[Any]:
        return [m for m in self.sent if type(m).__name__ == action]


@pytest.fixture
async def station(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Recorded]:
    monkeypatch.setattr(operations201, "NOTIFY_EVERY_S", 0.0)
    charger = Charger("S-201", Behaviour(connectors=2, meter_interval_s=60), protocol=PROTOCOL_201)
    station = Recorded(charger)
    charger.attach(station)  # connected: statuses go to the outbox too
    yield station
    charger.close()


def _profile(profile_id: int, purpose: str, level: int, limit: float, **extra: Any) -> Any:
    return {
        "id": profile_id,
        "stack_level": level,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": "Relative",
        "charging_schedule": [
            {
                "id": profile_id,
                "charging_rate_unit": "A",
                "charging_schedule_period": [
                    {"start_period": 0, "limit": limit},
                    {"start_period": 600, "limit": limit / 2},
                ],
            }
        ],
        **extra,
    }


async def test_profiles_are_kept_reported_scheduled_and_cleared(station: Recorded) -> None:
    # Given a TxDefaultProfile on EVSE 1 and a station maximum
    default = _profile(11, "TxDefaultProfile", 0, 16)
    station_max = _profile(12, "ChargingStationMaxProfile", 0, 10)
    assert (
        await station.ask("set_charging_profile", evse_id=1, charging_profile=default)
    ).status == "Accepted"
    assert (
        await station.ask("set_charging_profile", evse_id=0, charging_profile=station_max)
    ).status == "Accepted"
    # Then the station refuses what a charger refuses
    misplaced = _profile(13, "ChargingStationMaxProfile", 0, 10)
    assert (
        await station.ask("set_charging_profile", evse_id=1, charging_profile=misplaced)
    ).status == "Rejected"
    no_session = _profile(14, "TxProfile", 0, 10, transaction_id="nope")
    assert (
        await station.ask("set_charging_profile", evse_id=1, charging_profile=no_session)
    ).status == "Rejected"
    assert (
        await station.ask("set_charging_profile", evse_id=9, charging_profile=default)
    ).status == "Rejected"
    # When asked for its profiles, it reports what it holds, one report per EVSE
    asked = await station.ask("get_charging_profiles", request_id=5, charging_profile={})
    assert asked.status == "Accepted"
    reports = station.sent_of("ReportChargingProfiles")
    assert [(r.evse_id, [p["id"] for p in r.charging_profile], r.tbc) for r in reports] == [
        (0, [12], True),
        (1, [11], False),
    ]
    assert {r.request_id for r in reports} == {5}
    # And its composite schedule is the lower limit at each moment
    answer = await station.ask("get_composite_schedule", duration=3600, evse_id=1)
    assert answer.status == "Accepted"
    assert answer.schedule["charging_schedule_period"] == [
        {"start_period": 0, "limit": 10.0},
        {"start_period": 600, "limit": 5.0},
    ]
    # And a cleared profile is gone
    assert (
        await station.ask("clear_charging_profile", charging_profile_id=12)
    ).status == "Accepted"
    assert (await station.ask("clear_charging_profile", charging_profile_id=12)).status == "Unknown"
    criteria = {"evse_id": 1, "charging_profile_purpose": "TxDefaultProfile"}
    cleared = await station.ask("clear_charging_profile", charging_profile_criteria=criteria)
    assert cleared.status == "Accepted"
    none_left = await station.ask("get_charging_profiles", request_id=6, charging_profile={})
    assert none_left.status == "NoProfiles"


async def test_a_tx_profile_fits_the_running_transaction(station: Recorded) -> None:
    transaction_id = station.transactions.start(2, TOKEN, "Authorized")
    tx = _profile(21, "TxProfile", 1, 8, transaction_id=transaction_id)
    assert (
        await station.ask("set_charging_profile", evse_id=2, charging_profile=tx)
    ).status == "Accepted"
    same_slot = _profile(22, "TxProfile", 1, 6, transaction_id=transaction_id)
    await station.ask("set_charging_profile", evse_id=2, charging_profile=same_slot)
    assert list(station.charger.profiles_state["profiles"]) == [22]  # replaced, not stacked


def test_a_composite_schedule_without_profiles_is_the_hardware_limit_in_the_unit_asked() -> None:
    assert composite_schedule([], 1, 60, None)["charging_schedule_period"] == [
        {"start_period": 0, "limit": 32.0}
    ]
    in_watts = composite_schedule([(0, _profile(1, "TxDefaultProfile", 0, 16))], 1, 300, "W")
    assert in_watts["charging_schedule_period"] == [{"start_period": 0, "limit": 11040.0}]
    assert (in_watts["charging_rate_unit"], in_watts["duration"]) == ("W", 300)
    higher = [
        (1, _profile(1, "TxDefaultProfile", 0, 16)),
        (1, _profile(2, "TxDefaultProfile", 3, 20)),
    ]
    periods = composite_schedule(higher, 1, 3600, None)["charging_schedule_period"]
    assert periods[0] == {"start_period": 0, "limit": 20.0}  # the higher stack level rules


async def test_the_local_list_and_its_version_are_kept(station: Recorded) -> None:
    entry = {
        "id_token": {"id_token": "CARD-1", "type": "ISO14443"},
        "id_token_info": {"status": "Accepted"},
    }
    full = await station.ask(
        "send_local_list", version_number=3, update_type="Full", local_authorization_list=[entry]
    )
    assert full.status == "Accepted"
    assert (await station.ask("get_local_list_version")).version_number == 3
    stale = await station.ask("send_local_list", version_number=3, update_type="Differential")
    assert stale.status == "VersionMismatch"
    removal = [{"id_token": entry["id_token"]}]
    differential = await station.ask(
        "send_local_list",
        version_number=4,
        update_type="Differential",
        local_authorization_list=removal,
    )
    assert differential.status == "Accepted"
    assert station.charger.profiles_state["local_list"] == {}
    assert (await station.ask("get_local_list_version")).version_number == 4


async def test_base_reports_and_reports_go_as_notify_report(station: Recorded) -> None:
    assert (
        await station.ask("get_base_report", request_id=7, report_base="FullInventory")
    ).status == "Accepted"
    [report] = station.sent_of("NotifyReport")
    keys = {(d["component"]["name"], d["variable"]["name"]) for d in report.report_data}
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in keys and ("EVSE", "AvailabilityState") in keys
    assert (report.request_id, report.seq_no, report.tbc) == (7, 0, False)
    wanted = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]
    assert (
        await station.ask("get_report", request_id=8, component_variable=wanted)
    ).status == "Accepted"
    [picked] = station.sent_of("NotifyReport")[1:]
    assert [d["variable"]["name"] for d in picked.report_data] == ["HeartbeatInterval"]
    problems = await station.ask("get_report", request_id=9, component_criteria=["Problem"])
    assert problems.status == "EmptyResultSet"
    assert len(station.sent_of("NotifyReport")) == 2  # nothing sent for an empty result


async def test_a_reset_of_one_evse_ends_its_session_only(station: Recorded) -> None:
    station.transactions.start(1, TOKEN, "Authorized")
    station.transactions.start(2, TOKEN, "Authorized")
    assert (await station.ask("reset", type="OnIdle", evse_id=1)).status == "Scheduled"
    assert (await station.ask("reset", type="Immediate", evse_id=1)).status == "Accepted"
    assert list(station.transactions.sessions) == [2]
    assert not station.reboot.is_set()
    assert (await station.ask("reset", type="Immediate", evse_id=7)).status == "Rejected"
    ended = [
        e for e in station.charger.outbox.queued("TransactionEvent") if e["event_type"] == "Ended"
    ]
    assert [(e["evse"]["id"], e["trigger_reason"]) for e in ended] == [(1, "ResetCommand")]


async def test_reservations_are_held_refused_when_busy_and_cancelled(station: Recorded) -> None:
    station.transactions.start(1, TOKEN, "Authorized")
    reserve = {"expiry_date_time": "2099-01-01T00:00:00Z", "id_token": TOKEN}
    assert (await station.ask("reserve_now", id=1, evse_id=1, **reserve)).status == "Occupied"
    assert (await station.ask("reserve_now", id=2, evse_id=2, **reserve)).status == "Accepted"
    assert (await station.ask("reserve_now", id=3, **reserve)).status == "Rejected"  # none free
    assert (await station.ask("cancel_reservation", reservation_id=2)).status == "Accepted"
    assert (await station.ask("cancel_reservation", reservation_id=2)).status == "Rejected"


async def test_firmware_and_log_requests_are_followed_by_their_notifications(
    station: Recorded,
) -> None:
    firmware = {
        "location": "https://fw.example/1.bin",
        "retrieve_date_time": "2026-01-01T00:00:00Z",
    }
    assert (
        await station.ask("update_firmware", request_id=4, firmware=firmware)
    ).status == "Accepted"
    notes = station.sent_of("FirmwareStatusNotification")
    assert [(n.status, n.request_id) for n in notes] == [
        (s, 4) for s in ("Downloading", "Downloaded", "Installing", "Installed")
    ]
    log = {"remote_location": "https://logs.example/"}
    answer = await station.ask("get_log", log=log, log_type="DiagnosticsLog", request_id=5)
    assert answer.status == "Accepted" and answer.filename
    notes = station.sent_of("LogStatusNotification")
    assert [(n.status, n.request_id) for n in notes] == [("Uploading", 5), ("Uploaded", 5)]


async def test_a_trigger_for_transaction_events_reports_each_running_transaction(
    station: Recorded,
) -> None:
    first = station.transactions.start(1, TOKEN, "Authorized")
    second = station.transactions.start(2, TOKEN, "Authorized")
    assert (await station.ask("trigger", requested_message="TransactionEvent")).status == "Accepted"
    await station.ask("trigger", requested_message="TransactionEvent", evse={"id": 2})
    triggered = [
        e["transaction_info"]["transaction_id"]
        for e in station.charger.outbox.queued("TransactionEvent")
        if e["trigger_reason"] == "Trigger"
    ]
    assert triggered == [first, second, second]


async def test_transaction_status_data_transfer_and_network_profile(station: Recorded) -> None:
    running = station.transactions.start(1, TOKEN, "Authorized")
    status = await station.ask("get_transaction_status", transaction_id=running)
    assert (status.messages_in_queue, status.ongoing_indicator) == (True, True)  # not sent yet
    while len(station.charger.outbox):
        station.charger.outbox.done(await station.charger.outbox.head())
    status = await station.ask("get_transaction_status", transaction_id="gone")
    assert (status.messages_in_queue, status.ongoing_indicator) == (False, False)
    vendor = operations201.VENDOR_ID
    echoed = await station.ask("data_transfer", vendor_id=vendor, data="ping")
    assert (echoed.status, echoed.data) == ("Accepted", "ping")
    assert (await station.ask("data_transfer", vendor_id="com.other")).status == "UnknownVendorId"
    connection = {
        "ocpp_version": "OCPP20",
        "ocpp_transport": "JSON",
        "ocpp_csms_url": "wss://csms.example/ocpp",
        "message_timeout": 30,
        "security_profile": 1,
        "ocpp_interface": "Wired0",
    }
    answer = await station.ask(
        "set_network_profile", configuration_slot=2, connection_data=connection
    )
    assert answer.status == "Accepted"
    assert station.charger.profiles_state["network_profiles"] == {2: connection}
