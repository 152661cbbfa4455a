"""End to end: OCPP 2.0.1 stations (the ``ocpp`` package's v201 ``ChargePoint``) boot,
report their EVSEs, authorize and charge, with the guarantees 1.6 stations have: a
transaction is one transaction whatever the network did to its messages (I7)."""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call

from tests.e2e.conftest import ServedNode, connected_station, eventually
from tests.e2e.station201 import connected_201


async def _transactions(api: Any, station_id: str) -> list[dict[str, Any]]:
    response = await api.get("/api/transactions", params={"station": station_id})
    listed: list[dict[str, Any]] = response.json()
    return listed


async def _stopped(api: Any, station_id: str) -> Any:
    async def stopped() -> Any:
        listed = await _transactions(api, station_id)
        return listed if listed and all(t["status"] == "stopped" for t in listed) else None

    return await eventually(stopped)


async def test_a_2_0_1_station_boots_beats_and_reports_its_evses(node: ServedNode) -> None:
    async with connected_201(node, "V2-1") as station, node.client() as api:
        boot = await station.boot(reason="PowerUp")
        assert boot.status == "Accepted" and boot.interval > 0
        await station.call(call.Heartbeat())
        await station.status(1, 1, "Available")
        await station.status(2, 1, "Faulted")

        async def booted() -> Any:
            view = (await api.get("/api/stations/V2-1")).json()
            return view if view["registration"] == "Accepted" else None

        view = await eventually(booted)
        assert view["protocol"] == "ocpp2.0.1"
        assert view["vendor"] == "test" and view["model"] == "e2e-201"
        assert view["boot_reason"] == "PowerUp"
        assert view["last_heartbeat"] is not None
        assert view["evses"] == [
            {"id": 1, "status": "Available", "connectors": [{"id": 1, "status": "Available"}]},
            {"id": 2, "status": "Faulted", "connectors": [{"id": 1, "status": "Faulted"}]},
        ]
        assert view["version"] == 1  # telemetry never moved the business stream (I5)


async def test_authorize_answers_the_registry_s_verdict_on_the_id_token(node: ServedNode) -> None:
    async with connected_201(node, "V2-2") as station, node.client() as api:
        await api.put("/api/id-tags/TAG-201", json={"status": "Accepted"})
        await station.boot()
        known = await station.call(
            call.Authorize(id_token={"id_token": "TAG-201", "type": "ISO14443"})
        )
        unknown = await station.call(
            call.Authorize(id_token={"id_token": "NOBODY", "type": "ISO14443"})
        )
        assert known.id_token_info["status"] == "Accepted"
        assert unknown.id_token_info["status"] != "Accepted"


async def test_a_whole_transaction_started_updated_and_ended_is_one_session(
    node: ServedNode,
) -> None:
    async with connected_201(node, "V2-3") as station, node.client() as api:
        await api.put("/api/id-tags/TAG-1", json={"status": "Accepted"})
        await station.boot()
        started = await station.transaction_event("Started", "TX-A", 0, wh=1000, id_token="TAG-1")
        assert started.id_token_info["status"] == "Accepted"
        await station.transaction_event("Updated", "TX-A", 1, wh=1500)
        await station.transaction_event(
            "Ended", "TX-A", 2, wh=2500, stopped_reason="EVDisconnected"
        )
        [session] = await _stopped(api, "V2-3")
        assert session["station_transaction_id"] == "TX-A"
        assert (session["connector_id"], session["id_tag"]) == (1, "TAG-1")
        assert (session["meter_start"], session["meter_stop"]) == (1000, 2500)
        assert session["energy_wh"] == 1500
        assert session["stop_reason"] == "EVDisconnected"


async def test_retransmitted_transaction_events_make_one_transaction(node: ServedNode) -> None:
    async with connected_201(node, "V2-4") as station, node.client() as api:
        await station.boot()
        at = "2026-12-01T10:00:00Z"
        for _ in range(3):  # the station missed our answer twice
            await station.transaction_event("Started", "TX-R", 0, wh=0, timestamp=at)
        await station.transaction_event("Updated", "TX-R", 1, wh=400)
        await station.transaction_event("Updated", "TX-R", 1, wh=400)
        for _ in range(2):
            await station.transaction_event("Ended", "TX-R", 2, wh=700)
        [session] = await _stopped(api, "V2-4")
        assert (session["meter_start"], session["meter_stop"], session["energy_wh"]) == (
            0,
            700,
            700,
        )
        events = (await api.get("/api/stations/V2-4/events")).json()
        kinds = [event["type"] for event in events]
        assert kinds.count("TransactionStarted") == 1 and kinds.count("TransactionStopped") == 1


async def test_out_of_order_transaction_events_still_make_one_transaction(
    node: ServedNode,
) -> None:
    async with connected_201(node, "V2-5") as station, node.client() as api:
        await station.boot()
        # Replayed from an offline queue and delivered out of order: an update first,
        # then the start, the end, and an update from before the end.
        await station.transaction_event("Updated", "TX-O", 1, wh=300, offline=True)
        await station.transaction_event("Started", "TX-O", 0, wh=100, offline=True)
        await station.transaction_event("Ended", "TX-O", 3, wh=900, offline=True)
        await station.transaction_event("Updated", "TX-O", 2, wh=600, offline=True)
        [session] = await _stopped(api, "V2-5")
        assert session["station_transaction_id"] == "TX-O"
        assert (session["meter_start"], session["meter_stop"]) == (100, 900)
        assert session["energy_wh"] == 800  # from where the late Started says it began
        events = (await api.get("/api/stations/V2-5/events")).json()
        kinds = [event["type"] for event in events]
        assert kinds.count("TransactionStarted") == 1 and kinds.count("TransactionStopped") == 1


async def test_a_1_6_station_that_comes_back_speaking_2_0_1_keeps_its_history(
    node: ServedNode,
) -> None:
    async with connected_station(node, "UP-1") as old, node.client() as api:
        await old.boot()
    async with connected_201(node, "UP-1") as upgraded, node.client() as api:
        boot = await upgraded.boot(reason="FirmwareUpdate")
        assert boot.status == "Accepted"

        async def both_boots() -> Any:
            view = (await api.get("/api/stations/UP-1")).json()
            return view if view["version"] == 2 else None

        view = await eventually(both_boots)
        assert view["protocol"] == "ocpp2.0.1"
        assert view["boot_reason"] == "FirmwareUpdate"
        events = (await api.get("/api/stations/UP-1/events")).json()
        assert [event["type"] for event in events] == ["StationBooted", "StationBooted"]


async def test_a_notify_report_s_variables_show_as_the_station_s_device_model(
    node: ServedNode,
) -> None:
    async with connected_201(node, "V2-6") as station, node.client() as api:
        await station.boot()
        await station.call(
            call.NotifyReport(
                request_id=1,
                generated_at="2026-12-01T10:00:00Z",
                seq_no=0,
                report_data=[
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                        "variable_attribute": [{"value": "300", "mutability": "ReadWrite"}],
                    },
                    {
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "Power", "instance": "Max"},
                        "variable_attribute": [{"value": "22000", "mutability": "ReadOnly"}],
                    },
                ],
            )
        )

        async def reported() -> Any:
            view = (await api.get("/api/stations/V2-6")).json()
            return view.get("device_model")

        model = await eventually(reported)
        assert [(v["key"], v["value"], v["readonly"]) for v in model] == [
            ("OCPPCommCtrlr/HeartbeatInterval", "300", False),
            ("EVSE@1/Power[Max]", "22000", True),
        ]


async def test_a_2_0_1_data_transfer_may_carry_any_json(node: ServedNode) -> None:
    async with connected_201(node, "V2-7") as station:
        await station.boot()
        answer = await station.call(
            call.DataTransfer(vendor_id="com.example", message_id="m", data={"a": [1, 2]})
        )
        assert answer.status == "UnknownVendorId"


async def test_notified_events_and_security_events_show_in_the_station_view(
    node: ServedNode,
) -> None:
    async with connected_201(node, "V2-8") as station, node.client() as api:
        await station.boot()
        await station.call(
            call.NotifyEvent(
                generated_at="2026-12-01T10:00:00Z",
                seq_no=0,
                event_data=[
                    {
                        "event_id": 1,
                        "timestamp": "2026-12-01T10:00:00Z",
                        "trigger": "Alerting",
                        "actual_value": "true",
                        "event_notification_type": "HardWiredNotification",
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "Problem"},
                    }
                ],
            )
        )
        await station.call(
            call.SecurityEventNotification(
                type="FirmwareUpdated", timestamp="2026-12-01T10:01:00Z", tech_info="v2"
            )
        )

        async def noticed() -> Any:
            notices = (await api.get("/api/stations/V2-8")).json().get("notices") or []
            return notices if len(notices) == 2 else None

        notices = await eventually(noticed)
        assert [(n["kind"], n["what"]) for n in notices] == [
            ("event", "EVSE@1/Problem = true (Alerting)"),
            ("security", "FirmwareUpdated: v2"),
        ]
