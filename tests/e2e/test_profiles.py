"""Every CSMS-initiated operation of OCPP 1.6's six profiles end to end, with the
``ocpp`` package's ChargePoint as the station: accepted (its answer kept as the
command's result, its payload checked by the station against the 1.6 schemas),
refused by the station or not supported by it, and waiting for a station that is
not connected, then sent after its next boot or expired. One served node for the
module; each test has its own stations."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from ocpp.v16 import call

from chargeledger.simulator import profiles
from chargeledger.simulator.fleet import StationRun, run_station
from chargeledger.simulator.station import Behaviour
from tests.e2e.conftest import TOKEN, ServedNode, connected_station, eventually
from tests.e2e.profile_station import ProfileStation
from tests.e2e.profile_support import (
    ended,
    in_,
    post,
    ready_station,
    send,
    shared_node,
    station_view,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    node = shared_node(tmp_path_factory, "profiles")
    try:
        yield node
    finally:
        node.stop()


TX_DEFAULT = {
    "charging_profile_id": 11,
    "stack_level": 0,
    "charging_profile_purpose": "TxDefaultProfile",
    "charging_profile_kind": "Absolute",
    "charging_schedule": {
        "charging_rate_unit": "A",
        "charging_schedule_period": [
            {"start_period": 0, "limit": 16},
            {"start_period": 3600, "limit": 8.5, "number_phases": 3},
        ],
    },
}


def bodies() -> dict[str, dict[str, Any]]:
    """A body for each of the thirteen operations beyond the first six."""
    return {
        "clear-cache": {},
        "get-configuration": {},
        "change-configuration": {"key": "HeartbeatInterval", "value": "120"},
        "data-transfer": {"vendor_id": "com.example", "message_id": "ping", "data": "hello"},
        "update-firmware": {
            "location": "https://fw.example/v2.bin",
            "retrieve_date": "2026-06-01T02:00:00Z",
            "retries": 3,
            "retry_interval": 60,
        },
        "get-diagnostics": {
            "location": "ftp://diag.example/upload",
            "retries": 2,
            "retry_interval": 30,
            "start_time": "2026-01-01T00:00:00Z",
            "stop_time": "2026-01-02T00:00:00+00:00",
        },
        "get-local-list-version": {},
        "send-local-list": {"update_type": "Full"},
        "reserve-now": {"connector_id": 1, "expiry_date": in_(3600), "id_tag": "RES-TAG"},
        "set-charging-profile": {"connector_id": 0, "cs_charging_profiles": TX_DEFAULT},
        "clear-charging-profile": {"id": 11},
        "get-composite-schedule": {"connector_id": 1, "duration": 3600, "charging_rate_unit": "A"},
    }


async def test_each_operation_reaches_the_station_and_keeps_its_answer(served: ServedNode) -> None:
    async with ready_station(served, "P-ACC") as station, served.client() as api:
        await api.put("/api/id-tags/LIST-1", json={"status": "Accepted"})
        views = {
            name: await send(api, "P-ACC", name, body, f"acc-{name}")
            for name, body in bodies().items()
        }
        reservation = (await api.get("/api/reservations", params={"station": "P-ACC"})).json()
        rid = reservation[0]["reservation_id"]
        views["cancel-reservation"] = await send(
            api, "P-ACC", "cancel-reservation", {"reservation_id": rid}, "acc-cancel-reservation"
        )
        assert {name: view["status"] for name, view in views.items()} == dict.fromkeys(
            views, "accepted"
        )
        assert station.of("UpdateFirmware") == [bodies()["update-firmware"]]
        diagnostics = station.of("GetDiagnostics")[0]
        assert diagnostics["stop_time"] == "2026-01-02T00:00:00Z"  # sent in UTC
        assert station.of("DataTransfer") == [bodies()["data-transfer"]]
        assert station.of("SendLocalList") == [
            {
                "list_version": 1,
                "update_type": "Full",
                "local_authorization_list": [
                    {"id_tag": "LIST-1", "id_tag_info": {"status": "Accepted"}}
                ],
            }
        ]
        sent_profile = station.of("SetChargingProfile")[0]
        assert sent_profile["cs_charging_profiles"]["charging_schedule"][
            "charging_schedule_period"
        ][1] == {"start_period": 3600, "limit": 8.5, "number_phases": 3}
        assert station.of("ReserveNow")[0]["reservation_id"] == rid
        assert station.of("CancelReservation") == [{"reservation_id": rid}]
        assert views["data-transfer"]["result"] == {"status": "Accepted", "data": "pong"}
        assert views["get-diagnostics"]["result"] == {"fileName": "P-ACC.log"}
        assert views["get-local-list-version"]["result"] == {"listVersion": 0}  # before the list
        assert (
            views["get-composite-schedule"]["result"]["chargingSchedule"]["chargingRateUnit"] == "A"
        )
        assert (
            "uploads its diagnostics to ftp://diag.example/upload"
            in views["get-diagnostics"]["detail"]
        )
        keys = views["get-configuration"]["result"]["configurationKey"]
        assert {k["key"] for k in keys} == {
            "HeartbeatInterval",
            "NumberOfConnectors",
            "WebSocketPingInterval",
        }


async def test_what_the_operations_did_shows_in_the_station_view_and_its_history(
    served: ServedNode,
) -> None:
    async with ready_station(served, "P-VIEW"), served.client() as api:
        await send(api, "P-VIEW", "get-configuration", {}, "view-get")
        await send(
            api,
            "P-VIEW",
            "change-configuration",
            {"key": "HeartbeatInterval", "value": "90"},
            "view-chg",
        )
        rebooting = await send(
            api,
            "P-VIEW",
            "change-configuration",
            {"key": "WebSocketPingInterval", "value": "30"},
            "view-reboot",
        )
        await send(api, "P-VIEW", "send-local-list", {"update_type": "Full"}, "view-list")
        await send(
            api,
            "P-VIEW",
            "set-charging-profile",
            {"connector_id": 0, "cs_charging_profiles": TX_DEFAULT},
            "view-prof",
        )
        assert rebooting["status"] == "accepted"
        assert "takes effect after the station resets" in rebooting["detail"]
        view = await station_view(api, "P-VIEW")
        keys = {k["key"]: k for k in view["configuration"]["keys"]}
        assert keys["HeartbeatInterval"]["value"] == "90"
        assert keys["NumberOfConnectors"] == {
            "key": "NumberOfConnectors",
            "value": "2",
            "readonly": True,
        }
        assert keys["WebSocketPingInterval"]["reboot_required"] is True
        assert view["local_list"]["installed_version"] == 1
        assert view["local_list"]["in_sync"] is True
        assert [p["profile"]["charging_profile_id"] for p in view["charging_profiles"]] == [11]
        await send(api, "P-VIEW", "clear-charging-profile", {"connector_id": 0}, "view-clear")
        assert (await station_view(api, "P-VIEW"))["charging_profiles"] == []
        history = (await api.get("/api/stations/P-VIEW/events")).json()
        types = [event["type"] for event in history]
        assert types[0] == "StationBooted"
        assert {"ChangeConfigurationRequested", "LocalListInstalled", "CommandAccepted"} <= set(
            types
        )
        assert [e["version"] for e in history] == list(range(1, len(history) + 1))
        later = (await api.get("/api/stations/P-VIEW/events", params={"from_version": 3})).json()
        assert later == history[2:]
        missing = await api.get("/api/stations/NO-SUCH/events")
        assert (missing.status_code, missing.json()["error"]) == (404, "StationNotFound")


async def test_refusals_and_not_supported_by_the_station_end_the_command_with_its_answer(
    served: ServedNode,
) -> None:
    async with ready_station(served, "P-REJ") as station, served.client() as api:
        await send(
            api,
            "P-REJ",
            "reserve-now",
            {"connector_id": 2, "expiry_date": in_(600), "id_tag": "X"},
            "rej-ok",
        )
        rid = (await api.get("/api/reservations", params={"station": "P-REJ"})).json()[0][
            "reservation_id"
        ]
        station.answers.update(
            {
                "ClearCache": {"status": "Rejected"},
                "DataTransfer": {"status": "UnknownVendorId"},
                "SendLocalList": {"status": "Failed"},
                "ReserveNow": {"status": "Occupied"},
                "CancelReservation": {"status": "Rejected"},
                "SetChargingProfile": {"status": "Rejected"},
                "ClearChargingProfile": {"status": "Unknown"},
                "GetCompositeSchedule": {"status": "Rejected"},
                "GetLocalListVersion": {"list_version": -1},
            }
        )
        station.not_supported |= {"GetConfiguration", "UpdateFirmware", "GetDiagnostics"}
        refused = bodies()
        refused["change-configuration"] = {"key": "NoSuchKey", "value": "1"}
        refused["reserve-now"] = {"connector_id": 1, "expiry_date": in_(600), "id_tag": "Y"}
        refused["cancel-reservation"] = {"reservation_id": rid}
        views = {
            name: await send(api, "P-REJ", name, body, f"rej-{name}")
            for name, body in refused.items()
        }
        not_supported = {"get-configuration", "update-firmware", "get-diagnostics"}
        assert {n: v["status"] for n, v in views.items()} == {
            n: "failed" if n in not_supported else "rejected" for n in refused
        }
        for name in not_supported:
            assert "not supported by this station" in views[name]["detail"]
        assert views["change-configuration"]["result"] == {"status": "NotSupported"}
        assert views["change-configuration"]["detail"] == (
            "the station does not support configuration key NoSuchKey"
        )
        assert "send a Full list" in views["send-local-list"]["detail"]
        assert "keeps no local authorization list" in views["get-local-list-version"]["detail"]
        assert views["data-transfer"]["detail"] == "the station knows no vendor com.example"
        reservations = {
            r["reservation_id"]: r
            for r in (await api.get("/api/reservations", params={"station": "P-REJ"})).json()
        }
        assert reservations[rid]["status"] == "active"  # the station would not cancel it
        occupied = next(r for r in reservations.values() if r["id_tag"] == "Y")
        assert (occupied["status"], occupied["detail"]) == (
            "rejected",
            "the station answered Occupied",
        )

        async def refused_before_sending() -> Any:
            again = await post(
                api, "P-REJ", "change-configuration", {"key": "nosuchkey", "value": "2"}
            )
            return again if again.status_code == 409 else None

        again = await eventually(refused_before_sending)
        assert again.json()["error"] == "UnknownConfigurationKey"
        assert "NoSuchKey".casefold() in again.json()["detail"].casefold()
        readonly = await post(
            api, "P-REJ", "change-configuration", {"key": "NumberOfConnectors", "value": "4"}
        )
        assert readonly.status_code == 202  # nothing reported yet says it is read-only


async def test_commands_wait_for_an_offline_station_and_go_after_its_boot(
    served: ServedNode,
) -> None:
    async with ready_station(served, "P-OFF"):
        pass
    async with served.client() as api:
        waiting = bodies()
        for name, body in waiting.items():
            response = await post(api, "P-OFF", name, body, f"off-{name}")
            assert (response.status_code, response.json()["status"]) == (202, "requested"), name
        async with connected_station(served, "P-OFF", ProfileStation) as station:
            await station.boot()
            views = {name: await ended(api, f"off-{name}") for name in waiting}
            assert {n: v["status"] for n, v in views.items()} == dict.fromkeys(waiting, "accepted")
            sent = [action for action, _ in station.received]
            assert sent == [
                "ClearCache",
                "GetConfiguration",
                "ChangeConfiguration",
                "DataTransfer",
                "UpdateFirmware",
                "GetDiagnostics",
                "GetLocalListVersion",
                "SendLocalList",
                "ReserveNow",
                "SetChargingProfile",
                "ClearChargingProfile",
                "GetCompositeSchedule",
            ]


async def test_commands_for_a_station_that_stays_away_expire(served: ServedNode) -> None:
    async with ready_station(served, "P-GONE"):
        pass
    async with served.client() as api:
        for name, body in bodies().items():
            response = await post(api, "P-GONE", name, {**body, "ttl_s": 0.5}, f"gone-{name}")
            assert response.status_code == 202, response.text
        views = {name: await ended(api, f"gone-{name}") for name in bodies()}
        assert {n: v["status"] for n, v in views.items()} == dict.fromkeys(bodies(), "expired")
        (reservation,) = (await api.get("/api/reservations", params={"station": "P-GONE"})).json()
        assert reservation["status"] == "failed"


TRIGGERS = [
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
]


async def test_every_trigger_message_value_of_1_6_is_sent(served: ServedNode) -> None:
    async with ready_station(served, "P-TRIG") as station, served.client() as api:
        for message in TRIGGERS:
            body = {"requested_message": message, "connector_id": 1}
            view = await send(api, "P-TRIG", "trigger-message", body, f"trig-{message}")
            assert view["status"] == "accepted", view
        assert [p["requested_message"] for p in station.of("TriggerMessage")] == TRIGGERS

        async def notified() -> Any:
            view = await station_view(api, "P-TRIG")
            return (
                view if view["firmware_update"]["status"] == view["diagnostics"]["status"] else None
            )

        view = await eventually(notified)
        assert (view["firmware_update"]["status"], len(view["diagnostics"]["history"])) == (
            "Idle",
            1,
        )
        station.answers["TriggerMessage"] = {"status": "NotImplemented"}
        view = await send(
            api, "P-TRIG", "trigger-message", {"requested_message": "MeterValues"}, "trig-no"
        )
        assert (view["status"], view["detail"]) == (
            "rejected",
            "the station cannot send MeterValues on request",
        )


async def cli(served: ServedNode, *args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chargeledger.entrypoints.cli",
        "send",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_sends_any_operation_through_the_api(served: ServedNode) -> None:
    async with ready_station(served, "P-CLI") as station:
        options = ["--api", served.api_url, "--api-token", TOKEN]
        code, out, _ = await cli(
            served,
            "P-CLI",
            "change-configuration",
            "--body",
            '{"key": "HeartbeatInterval", "value": "60"}',
            "--wait",
            "10",
            *options,
        )
        assert code == 0
        assert json.loads(out)["status"] == "accepted"
        assert station.of("ChangeConfiguration") == [{"key": "HeartbeatInterval", "value": "60"}]
        code, out, _ = await cli(
            served,
            "P-CLI",
            "get-local-list-version",
            "--idempotency-key",
            "cli-version",
            CHARGELEDGER_API=served.api_url,
            CHARGELEDGER_API_TOKEN=TOKEN,
        )
        assert (code, json.loads(out)["command_id"]) == (0, "cli-version")
        code, _, err = await cli(served, "P-CLI", "reset", "--body", '{"type": "Gentle"}', *options)
        assert code == 2
        assert "422 ValidationError: body.type" in err
        station.answers["ClearCache"] = {"status": "Rejected"}
        code, out, _ = await cli(served, "P-CLI", "clear-cache", "--wait", *options)
        assert (code, json.loads(out)["status"]) == (1, "rejected")


async def test_each_station_message_of_the_six_profiles_shows_in_the_view_or_history(
    served: ServedNode,
) -> None:
    async with ready_station(served, "P-MSG") as station, served.client() as api:
        await station.call(call.Heartbeat())
        await station.call(call.Authorize(id_tag="WHO"))
        answer = await station.call(
            call.DataTransfer(vendor_id="com.acme", message_id="hello", data="{}")
        )
        assert answer.status == "UnknownVendorId"
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            await station.call(call.FirmwareStatusNotification(status=status))
        for status in ("Uploading", "Uploaded"):
            await station.call(call.DiagnosticsStatusNotification(status=status))
        reading = [{"timestamp": "2026-05-01T10:00:00Z", "sampled_value": [{"value": "42"}]}]
        await station.call(call.MeterValues(connector_id=2, meter_value=reading))
        started = await station.call(
            call.StartTransaction(
                connector_id=1, id_tag="WHO", meter_start=0, timestamp="2026-05-01T10:00:00Z"
            )
        )
        await station.call(
            call.MeterValues(
                connector_id=1, transaction_id=started.transaction_id, meter_value=reading
            )
        )
        await station.call(
            call.StopTransaction(
                meter_stop=9,
                timestamp="2026-05-01T11:00:00Z",
                transaction_id=started.transaction_id,
            )
        )
        view = await station_view(api, "P-MSG")
        assert view["last_heartbeat"] is not None
        assert [c["status"] for c in view["connectors"]] == ["Available", "Available"]
        assert [(a["id_tag"], a["status"]) for a in view["authorizations"]] == [("WHO", "Invalid")]
        assert view["data_transfers"][0] == {
            "vendor_id": "com.acme",
            "message_id": "hello",
            "data": "{}",
            "answer": "UnknownVendorId",
            "at": view["data_transfers"][0]["at"],
        }
        assert view["firmware_update"]["status"] == "Installed"
        assert [h["status"] for h in view["firmware_update"]["history"]] == [
            "Downloading",
            "Downloaded",
            "Installing",
            "Installed",
        ]
        assert [h["status"] for h in view["diagnostics"]["history"]] == ["Uploading", "Uploaded"]
        assert [(m["connector_id"], m["count"]) for m in view["meter_values"]] == [(2, 1)]
        assert view["meter_values"][0]["last"]["sampledValue"] == [{"value": "42"}]

        async def recorded() -> Any:
            events = (await api.get("/api/stations/P-MSG/events")).json()
            types = [event["type"] for event in events]
            return types if "TransactionStopped" in types else None

        types = await eventually(recorded)
        assert types == ["StationBooted", "TransactionStarted", "TransactionStopped"]
        (session,) = (await api.get("/api/transactions", params={"station": "P-MSG"})).json()
        assert session["meter_value_count"] == 1  # readings within it: telemetry too


async def test_the_simulator_answers_every_operation(
    served: ServedNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profiles, "NOTIFY_EVERY_S", 0.05)
    stop = asyncio.Event()
    run = StationRun("P-SIM")
    behaviour = Behaviour(connectors=2, charge_seconds=(60, 60), meter_interval_s=5)
    station = asyncio.create_task(run_station(served.ocpp_url, run, stop, 30.0, behaviour))
    try:
        async with served.client() as api:

            async def connected() -> Any:
                view = (await api.get("/api/stations/P-SIM")).json()
                return view if len(view.get("connectors", [])) == 2 else None

            await eventually(connected)
            answers = {
                name: await send(api, "P-SIM", name, body, f"sim-{name}")
                for name, body in bodies().items()
                if name not in ("change-configuration", "data-transfer")
            }
            assert {n: v["status"] for n, v in answers.items()} == dict.fromkeys(
                answers, "accepted"
            )

            async def installed() -> Any:
                view = await station_view(api, "P-SIM")
                return view if view["firmware_update"]["status"] == "Installed" else None

            view = await eventually(installed, timeout=15)
            assert [h["status"] for h in view["diagnostics"]["history"]] == [
                "Uploading",
                "Uploaded",
            ]
    finally:
        stop.set()
        await asyncio.wait_for(station, 10)


async def test_the_openapi_document_describes_every_body_and_resolves_its_references(
    served: ServedNode,
) -> None:
    async with served.client() as api:
        schema = (await api.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    text = json.dumps(schema)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert refs and refs <= set(components), refs - set(components)
    route = schema["paths"]["/api/stations/{station_id}/commands/{name}"]["post"]
    bodies_ = route["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert len(bodies_) == 25  # the nineteen of OCPP 1.6 and six of 2.0.1
    assert {"ChargingProfile", "ChargingSchedule", "ChargingSchedulePeriod"} <= set(components)
    assert "/api/reservations" in schema["paths"]
    assert "/api/charging-profiles/{profile_id}" in schema["paths"]
    assert "/api/stations/{station_id}/events" in schema["paths"]
