"""Every operator command of issue 4 end to end: HTTP in, OCPP CALL out, the station's
answer back as the command's outcome; refusals, bad bodies and unknown stations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from tests.e2e.conftest import ServedNode, Station, connected_station, eventually

NAMES = [
    "remote-start",
    "remote-stop",
    "unlock-connector",
    "reset",
    "change-availability",
    "trigger-message",
    "clear-cache",
    "get-configuration",
    "change-configuration",
    "data-transfer",
    "update-firmware",
    "get-diagnostics",
    "get-local-list-version",
    "send-local-list",
    "reserve-now",
    "cancel-reservation",
    "set-charging-profile",
    "clear-charging-profile",
    "get-composite-schedule",
    "get-base-report",
    "get-transaction-status",
    "get-charging-profiles",
    "get-report",
    "set-variables",
    "set-network-profile",
]
"""CONTRACT.md's nineteen names, in its order, and OCPP 2.0.1's own six (issue 17)."""


class ObedientStation(Station):
    """Answers every operator command; ChangeAvailability is Scheduled (a session runs)."""

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, **payload: Any) -> Any:
        self.received.append(("RemoteStopTransaction", payload))
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.unlock_connector)
    async def on_unlock(self, **payload: Any) -> Any:
        self.received.append(("UnlockConnector", payload))
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.reset)
    async def on_reset(self, **payload: Any) -> Any:
        self.received.append(("Reset", payload))
        return call_result.Reset(status="Accepted")

    @on(Action.change_availability)
    async def on_change_availability(self, **payload: Any) -> Any:
        self.received.append(("ChangeAvailability", payload))
        return call_result.ChangeAvailability(status="Scheduled")

    @on(Action.trigger_message)
    async def on_trigger(self, **payload: Any) -> Any:
        self.received.append(("TriggerMessage", payload))
        return call_result.TriggerMessage(status="Accepted")


async def ended(api: Any, command_id: str) -> dict[str, Any]:
    async def terminal() -> Any:
        view = (await api.get(f"/api/commands/{command_id}")).json()
        return view if view.get("status") in ("accepted", "rejected", "failed") else None

    view: dict[str, Any] = await eventually(terminal)
    return view


async def test_each_command_reaches_the_station_and_ends_with_its_answer(
    node: ServedNode,
) -> None:
    async with (
        connected_station(node, "CP-OPS", ObedientStation) as station,
        node.client() as api,
    ):
        await station.boot()
        started = await station.call(
            call.StartTransaction(
                connector_id=2, id_tag="T", meter_start=0, timestamp="2026-01-01T00:00:00Z"
            )
        )
        sent = {
            "remote-stop": {"transaction_id": started.transaction_id},
            "unlock-connector": {"connector_id": 1},
            "reset": {"type": "Soft"},
            "change-availability": {"connector_id": 0, "type": "Inoperative"},
            "trigger-message": {"requested_message": "StatusNotification", "connector_id": 1},
        }
        for name, body in sent.items():
            response = await api.post(
                f"/api/stations/CP-OPS/commands/{name}",
                json=body,
                headers={"Idempotency-Key": f"op-{name}"},
            )
            assert response.status_code == 202, response.text
            assert response.json()["name"] == name
        views = {name: await ended(api, f"op-{name}") for name in sent}
        assert {name: view["status"] for name, view in views.items()} == dict.fromkeys(
            sent, "accepted"
        )
        assert views["change-availability"]["result"] == {"status": "Scheduled"}
        assert views["unlock-connector"]["result"] == {"status": "Unlocked"}
        assert sorted(station.received) == sorted(
            [
                ("RemoteStopTransaction", {"transaction_id": started.transaction_id}),
                ("UnlockConnector", {"connector_id": 1}),
                ("Reset", {"type": "Soft"}),
                ("ChangeAvailability", {"connector_id": 0, "type": "Inoperative"}),
                ("TriggerMessage", {"requested_message": "StatusNotification", "connector_id": 1}),
            ]
        )


async def test_refusals_are_409_with_the_domain_error_name(node: ServedNode) -> None:
    async with connected_station(node, "CP-NO") as station, node.client() as api:
        await station.boot()
        await station.call(
            call.StatusNotification(
                connector_id=1,
                error_code="GroundFailure",
                status="Faulted",
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
        started = await station.call(
            call.StartTransaction(
                connector_id=2, id_tag="T", meter_start=0, timestamp=datetime.now(UTC).isoformat()
            )
        )
        over = started.transaction_id
        await station.call(
            call.StopTransaction(
                meter_stop=10, timestamp=datetime.now(UTC).isoformat(), transaction_id=over
            )
        )
        cases = [  # a transaction id never heard of is sent: test_field_sessions.py
            ("remote-stop", {"transaction_id": over}, "TransactionNotFound"),
            ("remote-start", {"connector_id": 1, "id_tag": "T"}, "ConnectorNotAvailable"),
            ("unlock-connector", {"connector_id": 5}, "UnknownConnector"),
            (
                "trigger-message",
                {"requested_message": "TransactionEvent"},  # 2.0.1's own: 1.6 cannot ask
                "InvalidCommand",
            ),
        ]
        for name, body, code in cases:
            response = await api.post(f"/api/stations/CP-NO/commands/{name}", json=body)
            assert response.status_code == 409, response.text
            assert response.json()["error"] == code
            assert response.json()["detail"]


async def test_a_pending_command_answers_its_repeat_and_refuses_a_contrary_one(
    node: ServedNode,
) -> None:
    async with connected_station(node, "CP-OFF") as station:
        await station.boot()
    async with node.client() as api:  # offline now: the reset stays requested
        url = "/api/stations/CP-OFF/commands/reset"
        first = await api.post(url, json={"type": "Soft"}, headers={"Idempotency-Key": "r-1"})
        same = await api.post(url, json={"type": "Soft"}, headers={"Idempotency-Key": "r-2"})
        contrary = await api.post(url, json={"type": "Hard"})
        assert (first.status_code, first.json()["status"]) == (202, "requested")
        assert (same.status_code, same.json()["command_id"]) == (202, "r-1")
        assert (contrary.status_code, contrary.json()["error"]) == (409, "CommandPending")


BAD_BODIES = [
    ("remote-start", {"connector_id": 0, "id_tag": "T"}, "connector_id"),
    ("remote-start", {"connector_id": 1, "id_tag": "X" * 21}, "id_tag"),
    ("remote-stop", {"transaction_id": "seven"}, "transaction_id"),
    ("unlock-connector", {}, "connector_id"),
    ("reset", {"type": "Gentle"}, "type"),
    ("change-availability", {"connector_id": 1, "type": "Broken"}, "type"),
    ("trigger-message", {"requested_message": "StartTransaction"}, "requested_message"),
    ("reset", {"type": "Soft", "extra": 1}, "extra"),
]


async def test_a_bad_body_is_422_naming_the_field(node: ServedNode) -> None:
    async with node.client() as api:
        for name, body, field in BAD_BODIES:
            response = await api.post(f"/api/stations/ANY/commands/{name}", json=body)
            assert response.status_code == 422, (name, body)
            assert field in response.json()["detail"], (name, body)


async def test_unknown_stations_and_unknown_command_names(node: ServedNode) -> None:
    async with node.client() as api:
        missing = await api.post("/api/stations/NOPE/commands/reset", json={"type": "Soft"})
        assert (missing.status_code, missing.json()["error"]) == (404, "StationNotFound")
        unknown = await api.post("/api/stations/NOPE/commands/self-destruct", json={})
        assert unknown.status_code == 422
        schema = (await api.get("/openapi.json")).json()
        assert schema["components"]["schemas"]["CommandName"]["enum"] == NAMES


async def test_a_command_for_an_offline_station_waits_for_its_boot(node: ServedNode) -> None:
    async with connected_station(node, "CP-LATE", ObedientStation) as station:
        await station.boot()
    async with node.client() as api:
        response = await api.post(
            "/api/stations/CP-LATE/commands/trigger-message",
            json={"requested_message": "Heartbeat"},
            headers={"Idempotency-Key": "late-1"},
        )
        assert (response.status_code, response.json()["status"]) == (202, "requested")
        async with connected_station(node, "CP-LATE", ObedientStation) as station:
            await station.boot()
            assert (await ended(api, "late-1"))["status"] == "accepted"
            await asyncio.sleep(0.2)
            assert station.received == [("TriggerMessage", {"requested_message": "Heartbeat"})]
