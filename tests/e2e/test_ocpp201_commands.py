"""End to end: operator commands to OCPP 2.0.1 stations, on the same endpoint and the same
reliable path as 1.6's: decided, recorded, sent once, ended once (I3, I4), in doubt
reconciled, never re-sent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import call
from ocpp.v201.enums import Action

from tests.e2e.conftest import ServedNode, connected_station, eventually, start_node
from tests.e2e.station201 import Station201, command, connected_201, ended


async def _true_when(value: Any) -> Any:
    return value


async def test_a_remote_start_accepted_ends_in_a_transaction_started_and_ended(
    node: ServedNode,
) -> None:
    async with connected_201(node, "C2-1") as station, node.client() as api:
        await api.put("/api/id-tags/TAG-1", json={"status": "Accepted"})
        await station.boot()
        response = await command(
            api, "C2-1", "remote-start", "rs-1", connector_id=1, id_tag="TAG-1"
        )
        assert response.status_code == 202, response.text
        view = await ended(api, "rs-1", "accepted")
        assert view["result"] == {"status": "Accepted"}
        [(action, asked)] = station.received
        assert action == "RequestStartTransaction"
        assert asked["evse_id"] == 1 and asked["id_token"] == {
            "id_token": "TAG-1",
            "type": "Central",
        }
        await station.transaction_event(
            "Started",
            "TX-RS",
            0,
            wh=10,
            id_token="TAG-1",
            trigger="RemoteStart",
            remote_start_id=asked["remote_start_id"],
        )

        async def linked() -> Any:
            listed = (await api.get("/api/transactions", params={"station": "C2-1"})).json()
            return listed if listed and listed[0]["remote_start_command_id"] == "rs-1" else None

        [session] = await eventually(linked)
        stop = await command(
            api, "C2-1", "remote-stop", "rstop-1", transaction_id=session["transaction_id"]
        )
        assert stop.status_code == 202, stop.text
        await ended(api, "rstop-1", "accepted")
        assert station.received[-1] == ("RequestStopTransaction", {"transaction_id": "TX-RS"})
        await station.transaction_event(
            "Ended", "TX-RS", 1, wh=510, trigger="RemoteStop", stopped_reason="Remote"
        )

        async def stopped() -> Any:
            got = (await api.get(f"/api/transactions/{session['transaction_id']}")).json()
            return got if got["status"] == "stopped" else None

        done = await eventually(stopped)
        assert (done["energy_wh"], done["stop_reason"]) == (500, "Remote")


@pytest.mark.parametrize(
    ("name", "body", "action", "sent"),
    [
        ("reset", {"type": "Hard"}, "Reset", {"type": "Immediate"}),
        (
            "change-availability",
            {"connector_id": 1, "type": "Inoperative"},
            "ChangeAvailability",
            {"operational_status": "Inoperative", "evse": {"id": 1}},
        ),
        (
            "unlock-connector",
            {"connector_id": 1},
            "UnlockConnector",
            {"evse_id": 1, "connector_id": 1},
        ),
        (
            "trigger-message",
            {"requested_message": "StatusNotification", "connector_id": 1},
            "TriggerMessage",
            {"requested_message": "StatusNotification", "evse": {"id": 1}},
        ),
        (
            "trigger-message",
            {"requested_message": "TransactionEvent", "connector_id": 1},
            "TriggerMessage",
            {"requested_message": "TransactionEvent", "evse": {"id": 1}},
        ),
        ("clear-cache", {}, "ClearCache", {}),
        (
            "get-configuration",
            {"key": ["OCPPCommCtrlr/HeartbeatInterval"]},
            "GetVariables",
            {
                "get_variable_data": [
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ),
        (
            "change-configuration",
            {"key": "OCPPCommCtrlr/HeartbeatInterval", "value": "60"},
            "SetVariables",
            {
                "set_variable_data": [
                    {
                        "attribute_value": "60",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ),
    ],
)
async def test_each_command_is_sent_as_its_2_0_1_message_and_ends_accepted(
    node: ServedNode, name: str, body: dict[str, Any], action: str, sent: dict[str, Any]
) -> None:
    async with connected_201(node, "C2-2") as station, node.client() as api:
        await station.boot()
        await station.status(1, 1, "Available")
        response = await command(api, "C2-2", name, f"{name}-1", **body)
        assert response.status_code == 202, response.text
        await ended(api, f"{name}-1", "accepted")
        assert station.received == [(action, sent)]


async def test_a_rejecting_2_0_1_answer_ends_the_command_rejected(node: ServedNode) -> None:
    async with connected_201(node, "C2-3") as station, node.client() as api:
        station.answers["SetVariables"] = "UnknownVariable"
        await station.boot()
        await command(api, "C2-3", "change-configuration", "cc-r", key="X/Y", value="1")
        view = await ended(api, "cc-r", "rejected")
        assert "no variable X/Y" in view["detail"]


async def test_a_callerror_from_a_2_0_1_station_fails_the_command(node: ServedNode) -> None:
    async with connected_201(node, "C2-4") as station, node.client() as api:
        await station.boot()  # Station201 has no handler for GetLocalListVersion
        await command(api, "C2-4", "get-local-list-version", "glv-1")
        view = await ended(api, "glv-1", "failed")
        assert view["error_code"] in ("NotImplemented", "NotSupported")


async def test_commands_a_2_0_1_station_cannot_say_are_refused_with_409(
    node: ServedNode,
) -> None:
    async with connected_201(node, "C2-5") as station, node.client() as api:
        await station.boot()
        unsayable = await command(
            api, "C2-5", "change-configuration", "cc-1", key="HeartbeatInterval", value="1"
        )
        assert unsayable.status_code == 409
        assert "Component/Variable" in unsayable.json()["detail"]
        assert station.received == []


async def test_a_command_for_an_offline_2_0_1_station_is_sent_after_its_boot(
    node: ServedNode,
) -> None:
    async with connected_201(node, "C2-6") as station:
        await station.boot()
    async with node.client() as api:
        response = await command(api, "C2-6", "reset", "off-1", type="Soft")
        assert response.json()["status"] == "requested"
        async with connected_201(node, "C2-6") as station:
            await station.boot()
            await ended(api, "off-1", "accepted")
            assert station.received == [("Reset", {"type": "OnIdle"})]


class Vanishing201(Station201):
    """Takes the remote start and drops the connection without answering."""

    @on(Action.request_start_transaction)
    async def on_request_start(self, **payload: Any) -> Any:
        self.received.append(("RequestStartTransaction", payload))
        await self._connection.close()
        await asyncio.sleep(60)


async def test_a_2_0_1_remote_start_in_doubt_that_took_effect_is_reconciled_accepted(
    tmp_path: Path,
) -> None:
    """I4 for 2.0.1: in doubt, reconciled from what the station reports, never re-sent."""
    node = start_node(tmp_path, "--reconcile-grace", "1.5")
    try:
        async with node.client() as api:
            async with connected_201(node, "C2-7", station_type=Vanishing201) as first:
                await first.boot()
                await command(api, "C2-7", "remote-start", "gone-1", connector_id=1, id_tag="D-7")
                await eventually(lambda: _true_when(first.received))
            async with connected_201(node, "C2-7") as second:
                await second.boot()
                # It did start charging while we could not hear it; the trigger asks.
                await second.transaction_event("Started", "TX-D", 0, wh=0, id_token="D-7")
                view = await ended(api, "gone-1", "accepted")
                assert view["detail"].startswith("reconciled")
                assert [a for a, _ in second.received] in ([], ["TriggerMessage"])
    finally:
        node.stop()


async def test_a_mixed_fleet_of_1_6_and_2_0_1_stations_on_one_node(node: ServedNode) -> None:
    async with (
        connected_station(node, "MIX-16") as old,
        connected_201(node, "MIX-201") as new,
        node.client() as api,
    ):
        await old.boot()
        await new.boot()
        await command(api, "MIX-16", "remote-start", "mix-a", connector_id=1, id_tag="T")
        await command(api, "MIX-201", "remote-start", "mix-b", connector_id=1, id_tag="T")
        await ended(api, "mix-a", "accepted")
        await ended(api, "mix-b", "accepted")
        assert [a for a, _ in old.received] == ["RemoteStartTransaction"]
        assert [a for a, _ in new.received] == ["RequestStartTransaction"]
        listed = {s["id"]: s["protocol"] for s in (await api.get("/api/stations")).json()}
        assert listed["MIX-16"] == "ocpp1.6" and listed["MIX-201"] == "ocpp2.0.1"


async def test_the_station_rules_hold_per_evse_for_2_0_1_as_per_connector_for_1_6(
    node: ServedNode,
) -> None:
    async with connected_201(node, "C2-8") as station, node.client() as api:
        station.answers["RequestStartTransaction"] = "Accepted"
        await station.boot()
        await station.status(2, 1, "Faulted")
        faulted = await command(api, "C2-8", "remote-start", "f-1", connector_id=2, id_tag="A")
        assert faulted.status_code == 409
        assert faulted.json()["error"] == "ConnectorNotAvailable"
        first = await command(api, "C2-8", "remote-start", "h-1", connector_id=1, id_tag="A")
        assert first.status_code == 202
        await ended(api, "h-1", "accepted")  # it holds EVSE 1 until its session starts
        other = await command(api, "C2-8", "remote-start", "h-2", connector_id=1, id_tag="B")
        assert other.status_code == 409
        assert other.json()["error"] == "ConnectorNotAvailable"


async def test_get_and_set_variables_results_are_kept_as_the_station_s_configuration(
    node: ServedNode,
) -> None:
    async with connected_201(node, "C2-9") as station, node.client() as api:
        await station.boot()
        key = "OCPPCommCtrlr/HeartbeatInterval"
        await command(api, "C2-9", "get-configuration", "gv-1", key=[key])
        await ended(api, "gv-1", "accepted")
        await command(api, "C2-9", "change-configuration", "sv-1", key=key, value="60")
        await ended(api, "sv-1", "accepted")
        station.answers["SetVariables"] = "UnknownVariable"
        await command(api, "C2-9", "change-configuration", "sv-2", key="No/Such", value="1")
        await ended(api, "sv-2", "rejected")

        async def configured() -> Any:
            view = (await api.get("/api/stations/C2-9")).json()
            shown = view.get("configuration") or {}
            return shown if shown.get("unknown_keys") else None

        shown = await eventually(configured)
        assert shown["keys"] == [{"key": key, "value": "60", "readonly": False}]
        assert shown["unknown_keys"] == ["No/Such"]
        again = await command(api, "C2-9", "change-configuration", "sv-3", key="No/Such", value="2")
        assert again.status_code == 409  # the station said it has no such variable


async def test_a_command_2_0_1_cannot_say_fails_when_its_station_comes_back_speaking_2_0_1(
    node: ServedNode,
) -> None:
    async with connected_station(node, "C2-10") as old:
        await old.boot()
    async with node.client() as api:
        # A 1.6 key: 2.0.1 names a variable by its component too.
        queued = await command(
            api, "C2-10", "change-configuration", "q-1", key="HeartbeatInterval", value="60"
        )
        assert queued.status_code == 202  # the station spoke 1.6 when it was asked
        async with connected_201(node, "C2-10") as upgraded:
            await upgraded.boot()
            view = await ended(api, "q-1", "failed")
            assert view["error_code"] == "NotSupportedByProtocol"
            assert "Component/Variable" in view["detail"]
            assert upgraded.received == []


async def test_a_base_report_asked_of_a_2_0_1_station_shows_as_its_device_model(
    node: ServedNode,
) -> None:
    async with (
        connected_201(node, "C2-11") as station,
        connected_station(node, "C2-12") as old,
        node.client() as api,
    ):
        await station.boot()
        await old.boot()
        asked = await command(api, "C2-11", "get-base-report", "br-1", report_base="FullInventory")
        assert asked.status_code == 202, asked.text
        view = await ended(api, "br-1", "accepted")
        assert "device_model" in view["detail"]
        [(action, sent)] = station.received
        assert action == "GetBaseReport" and sent["report_base"] == "FullInventory"

        async def reported() -> Any:
            return (await api.get("/api/stations/C2-11")).json().get("device_model")

        [variable] = await eventually(reported)
        assert (variable["key"], variable["value"]) == ("OCPPCommCtrlr/HeartbeatInterval", "300")
        refused = await command(
            api, "C2-12", "get-base-report", "br-2", report_base="FullInventory"
        )
        assert refused.status_code == 409
        assert refused.json()["error"] == "NotSupportedByProtocol"


async def test_get_transaction_status_asks_by_the_station_s_own_transaction_id(
    node: ServedNode,
) -> None:
    async with connected_201(node, "C2-13") as station, node.client() as api:
        await station.boot()
        await station.transaction_event("Started", "TX-GS", 0, wh=0, id_token="T")

        async def opened() -> Any:
            return (await api.get("/api/transactions", params={"station": "C2-13"})).json()

        [session] = await eventually(opened)
        await command(
            api, "C2-13", "get-transaction-status", "gs-1", transaction_id=session["transaction_id"]
        )
        view = await ended(api, "gs-1", "accepted")
        assert view["result"] == {"messagesInQueue": False, "ongoingIndicator": True}
        assert station.received == [("GetTransactionStatus", {"transaction_id": "TX-GS"})]


async def test_a_reservation_the_2_0_1_station_removes_ends_here_too(node: ServedNode) -> None:
    async with connected_201(node, "C2-14") as station, node.client() as api:
        await station.boot()
        reserved = await command(
            api,
            "C2-14",
            "reserve-now",
            "rn-1",
            connector_id=1,
            expiry_date="2099-01-01T00:00:00Z",
            id_tag="T",
        )
        assert reserved.status_code == 202, reserved.text
        await ended(api, "rn-1", "accepted")
        [(action, sent)] = station.received
        assert action == "ReserveNow" and sent["evse_id"] == 1
        assert sent["id_token"] == {"id_token": "T", "type": "Central"}

        async def active() -> Any:
            listed = (await api.get("/api/reservations", params={"station": "C2-14"})).json()
            return listed if listed and listed[0]["status"] == "active" else None

        [reservation] = await eventually(active)
        assert reservation["reservation_id"] == sent["id"]
        for _ in range(2):  # a repeat of the update changes nothing more
            await station.call(
                call.ReservationStatusUpdate(
                    reservation_id=sent["id"], reservation_update_status="Removed"
                )
            )

        async def cancelled() -> Any:
            got = (await api.get(f"/api/reservations/{sent['id']}")).json()
            return got if got["status"] == "cancelled" else None

        done = await eventually(cancelled)
        assert "removed" in (done.get("detail") or "")
