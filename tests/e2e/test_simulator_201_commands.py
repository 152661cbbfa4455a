"""Our OCPP 2.0.1 simulated station answers every operation the node can send a 2.0.1
station: each one, through the HTTP API, ends ``accepted``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from chargeledger.simulator.fleet import StationRun, run_station
from chargeledger.simulator.operations201 import VENDOR_ID
from chargeledger.simulator.station import Behaviour
from tests.e2e.conftest import ServedNode, eventually
from tests.e2e.station201 import command, ended

STATION = "SIM-201-ALL"
LATER = "2099-01-01T00:00:00Z"
PROFILE = {
    "charging_profile_id": 11,
    "stack_level": 0,
    "charging_profile_purpose": "TxDefaultProfile",
    "charging_profile_kind": "Absolute",
    "charging_schedule": {
        "charging_rate_unit": "A",
        "charging_schedule_period": [{"start_period": 0, "limit": 16}],
    },
}
NETWORK = {
    "ocpp_version": "OCPP20",
    "ocpp_transport": "JSON",
    "ocpp_csms_url": "wss://csms.example/ocpp",
    "message_timeout": 30,
    "security_profile": 1,
    "ocpp_interface": "Wired0",
}
Body = Callable[[dict[str, Any]], dict[str, Any]]


def _fixed(body: dict[str, Any]) -> Body:
    return lambda _: body


COMMANDS: list[tuple[str, Body, str]] = [
    # (command, its body from what is known so far, the action the station counts)
    ("remote-start", _fixed({"connector_id": 1, "id_tag": "DRIVER-1"}), "RequestStartTransaction"),
    (
        "set-charging-profile",
        _fixed({"connector_id": 1, "cs_charging_profiles": PROFILE}),
        "SetChargingProfile",
    ),
    ("get-charging-profiles", _fixed({"connector_id": 1}), "GetChargingProfiles"),
    (
        "get-composite-schedule",
        _fixed({"connector_id": 1, "duration": 600}),
        "GetCompositeSchedule",
    ),
    ("clear-charging-profile", _fixed({"id": 11}), "ClearChargingProfile"),
    (
        "send-local-list",
        _fixed({"update_type": "Full", "entries": [{"id_tag": "CARD-1"}]}),
        "SendLocalList",
    ),
    ("get-local-list-version", _fixed({}), "GetLocalListVersion"),
    ("get-report", _fixed({"component_variable": ["OCPPCommCtrlr"]}), "GetReport"),
    ("get-base-report", _fixed({"report_base": "FullInventory"}), "GetBaseReport"),
    ("get-configuration", _fixed({"key": ["OCPPCommCtrlr/HeartbeatInterval"]}), "GetVariables"),
    ("get-configuration", _fixed({}), "GetBaseReport"),  # every key: ConfigurationInventory
    (
        "change-configuration",
        _fixed({"key": "TxCtrlr/EVConnectionTimeOut", "value": "90"}),
        "SetVariables",
    ),
    (
        "set-variables",
        _fixed({"variables": [{"key": "OCPPCommCtrlr/HeartbeatInterval", "value": "300"}]}),
        "SetVariables",
    ),
    (
        "set-network-profile",
        _fixed({"configuration_slot": 2, "connection_data": NETWORK}),
        "SetNetworkProfile",
    ),
    (
        "reserve-now",
        _fixed({"connector_id": 2, "expiry_date": LATER, "id_tag": "DRIVER-1"}),
        "ReserveNow",
    ),
    (
        "cancel-reservation",
        lambda known: {"reservation_id": known["reservation_id"]},
        "CancelReservation",
    ),
    (
        "update-firmware",
        _fixed({"location": "https://fw.example/2.bin", "retrieve_date": LATER}),
        "UpdateFirmware",
    ),
    ("get-diagnostics", _fixed({"location": "https://logs.example/"}), "GetLog"),
    (
        "get-transaction-status",
        lambda known: {"transaction_id": known["transaction_id"]},
        "GetTransactionStatus",
    ),
    (
        "data-transfer",
        _fixed({"vendor_id": VENDOR_ID, "message_id": "echo", "data": "ping"}),
        "DataTransfer",
    ),
    ("trigger-message", _fixed({"requested_message": "TransactionEvent"}), "TriggerMessage"),
    ("clear-cache", _fixed({}), "ClearCache"),
    ("unlock-connector", _fixed({"connector_id": 2}), "UnlockConnector"),
    ("change-availability", _fixed({"connector_id": 2, "type": "Operative"}), "ChangeAvailability"),
    ("reset", _fixed({"type": "Soft", "evse_id": 2}), "Reset"),
    (
        "remote-stop",
        lambda known: {"transaction_id": known["transaction_id"]},
        "RequestStopTransaction",
    ),
    ("reset", _fixed({"type": "Hard"}), "Reset"),  # last: the station reboots
]


async def test_the_simulated_2_0_1_station_accepts_every_operation_the_node_sends(
    node: ServedNode,
) -> None:
    stop = asyncio.Event()
    run = StationRun(STATION, protocol="ocpp2.0.1")
    behaviour = Behaviour(connectors=2, meter_interval_s=60)
    station = asyncio.create_task(run_station(node.ocpp_url, run, stop, 5.0, behaviour))
    known: dict[str, Any] = {}
    try:
        async with asyncio.timeout(90), node.client() as api:
            await api.put("/api/id-tags/DRIVER-1", json={"status": "Accepted"})

            async def booted() -> Any:
                view = (await api.get(f"/api/stations/{STATION}")).json()
                return len(view.get("evses", [])) == 2

            await eventually(booted)
            for number, (name, body, _) in enumerate(COMMANDS):
                key = f"all-{number}-{name}"
                response = await command(api, STATION, name, key, **body(known))
                assert response.status_code == 202, (name, response.text)
                view = await ended(api, key, "accepted")
                assert view["status"] == "accepted", (name, view)
                if name == "remote-start":
                    known["transaction_id"] = await _open_transaction(api)
                elif name == "reserve-now":
                    known["reservation_id"] = await _active_reservation(api)
            assert run.charger is not None
            counted = run.charger.counters.by_action
            assert {action for _, _, action in COMMANDS} <= set(counted), counted
            assert (await api.get(f"/api/stations/{STATION}")).json().get("device_model")
    finally:
        stop.set()
        await asyncio.wait_for(station, 10)


async def _open_transaction(api: Any) -> Any:
    async def opened() -> Any:
        sessions = (await api.get("/api/transactions", params={"station": STATION})).json()
        return [s["transaction_id"] for s in sessions if s["status"] == "open"]

    return (await eventually(opened))[0]


async def _active_reservation(api: Any) -> Any:
    async def active() -> Any:
        listed = (await api.get("/api/reservations", params={"station": STATION})).json()
        return [r["reservation_id"] for r in listed if r["status"] == "active"]

    return (await eventually(active))[0]
