"""End to end: a served node and a station from the ``ocpp`` package."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ocpp.v16 import call

from tests.e2e.conftest import ServedNode, connected_station, eventually


async def test_boot_heartbeat_and_status_show_in_the_station_view(node: ServedNode) -> None:
    async with connected_station(node, "CP-1") as station, node.client() as api:
        boot = await station.boot()
        assert boot.status == "Accepted"
        await station.call(call.Heartbeat())
        await station.call(
            call.StatusNotification(
                connector_id=1,
                error_code="NoError",
                status="Available",
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
        view = (await api.get("/api/stations/CP-1")).json()
        assert view["connected"] is True
        assert view["last_heartbeat"] is not None
        assert view["connectors"] == [{"id": 1, "status": "Available", "error_code": "NoError"}]

        async def registered() -> Any:
            body = (await api.get("/api/stations/CP-1")).json()
            return body if body["registration"] == "Accepted" else None

        view = await eventually(registered)
        assert view["version"] == 1  # telemetry never moved the business stream


async def test_a_remote_start_reaches_the_station_once_and_ends_accepted(
    node: ServedNode,
) -> None:
    async with connected_station(node, "CP-2") as station, node.client() as api:
        await station.boot()
        body = {"connector_id": 1, "id_tag": "TAG-1"}
        headers = {"Idempotency-Key": "start-1"}
        first = await api.post(
            "/api/stations/CP-2/commands/remote-start", json=body, headers=headers
        )
        assert first.status_code == 202
        assert first.json()["status"] == "requested"
        again = await api.post(
            "/api/stations/CP-2/commands/remote-start", json=body, headers=headers
        )
        assert again.status_code == 202
        assert again.json()["command_id"] == "start-1"

        async def ended() -> Any:
            view = (await api.get("/api/commands/start-1")).json()
            return view if view.get("status") == "accepted" else None

        view = await eventually(ended)
        assert view["result"] == {"status": "Accepted"}
        assert [name for name, _ in station.received] == ["RemoteStartTransaction"]
        assert station.received[0][1] == {"connector_id": 1, "id_tag": "TAG-1"}


async def test_a_rejected_answer_ends_the_command_rejected(node: ServedNode) -> None:
    async with connected_station(node, "CP-3") as station, node.client() as api:
        station.remote_start_answer = "Rejected"
        await station.boot()
        response = await api.post(
            "/api/stations/CP-3/commands/remote-start",
            json={"connector_id": 1, "id_tag": "TAG-1"},
            headers={"Idempotency-Key": "start-r"},
        )
        assert response.status_code == 202

        async def ended() -> Any:
            view = (await api.get("/api/commands/start-r")).json()
            return view if view.get("status") == "rejected" else None

        assert (await eventually(ended))["result"] == {"status": "Rejected"}


async def test_a_command_for_an_offline_station_is_sent_after_its_boot(node: ServedNode) -> None:
    async with connected_station(node, "CP-4") as station:
        await station.boot()
    async with node.client() as api:
        response = await api.post(
            "/api/stations/CP-4/commands/remote-start",
            json={"connector_id": 2, "id_tag": "TAG-9"},
            headers={"Idempotency-Key": "later-1"},
        )
        assert response.status_code == 202
        async with connected_station(node, "CP-4") as station:
            await station.boot()

            async def ended() -> Any:
                view = (await api.get("/api/commands/later-1")).json()
                return view if view.get("status") == "accepted" else None

            await eventually(ended)
            assert len(station.received) == 1


async def test_the_api_refuses_calls_without_the_token(node: ServedNode) -> None:
    async with node.client(token=None) as anonymous, node.client(token="wrong") as wrong:
        assert (await anonymous.get("/api/stations")).status_code == 401
        assert (await wrong.get("/api/stations")).status_code == 401
        assert (await anonymous.get("/healthz")).status_code == 200


async def test_a_malformed_body_gets_a_422_naming_the_field(node: ServedNode) -> None:
    async with connected_station(node, "CP-5") as station, node.client() as api:
        await station.boot()
        response = await api.post(
            "/api/stations/CP-5/commands/remote-start", json={"connector_id": "one"}
        )
        assert response.status_code == 422
        assert "connector_id" in response.json()["detail"]
        assert "id_tag" in response.json()["detail"]


async def test_an_unknown_station_is_404(node: ServedNode) -> None:
    async with node.client() as api:
        assert (await api.get("/api/stations/NOPE")).status_code == 404
        response = await api.post(
            "/api/stations/NOPE/commands/remote-start", json={"connector_id": 1, "id_tag": "T"}
        )
        assert response.status_code == 404


async def test_a_handshake_without_the_ocpp_subprotocol_is_refused(node: ServedNode) -> None:
    import websockets
    from websockets.exceptions import InvalidStatus

    try:
        async with websockets.connect(f"{node.ocpp_url}/CP-6"):
            raise AssertionError("the handshake should have been refused")
    except InvalidStatus as refused:
        assert refused.response.status_code == 400
