"""End to end through the OCPP gateway of a served node: the station messages it
serves, strict framing on a live connection, takeover, keepalive, frame size and
handshake limits. Stations are the ``ocpp`` package's ``ChargePoint``; faults
that a ChargePoint refuses to send go over a bare WebSocket or TCP socket."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from tests.e2e.conftest import ServedNode, connected_station, eventually, start_node

OCPP = [Subprotocol("ocpp1.6")]
NOW = datetime.now(UTC).isoformat()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    served = start_node(
        tmp_path_factory.mktemp("gateway"),
        "--ping-interval",
        "0.5",
        "--ping-timeout",
        "0.5",
        "--close-timeout",
        "1",
        "--handshake-timeout",
        "1",
        "--max-frame-bytes",
        "4096",
        "--data-transfer-vendors",
        "ACME",
    )
    try:
        yield served
    finally:
        served.stop()


def persisted_twin(node: ServedNode, station_id: str) -> dict[str, Any] | None:
    path = node.store.removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT doc FROM documents WHERE model = 'twin' AND key = ?", (station_id,)
        ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


async def station_view(node: ServedNode, station_id: str) -> dict[str, Any]:
    async with node.client() as api:
        body: dict[str, Any] = (await api.get(f"/api/stations/{station_id}")).json()
        return body


# -- the station messages the gateway serves ---------------------------------------


async def test_every_telemetry_message_is_answered_and_reaches_the_persisted_twin(
    gw: ServedNode,
) -> None:
    async with connected_station(gw, "GW-TELEMETRY") as station:
        boot = await station.boot()
        assert (boot.status, boot.interval) == ("Accepted", 300)
        beat = await station.call(call.Heartbeat())
        assert beat.current_time.endswith("Z")
        await station.call(
            call.StatusNotification(
                connector_id=0, error_code="NoError", status="Available", timestamp=NOW
            )
        )
        await station.call(
            call.StatusNotification(
                connector_id=1,
                error_code="GroundFailure",
                status="Faulted",
                info="RCD tripped",
                vendor_error_code="E42",
            )
        )
        await station.call(call.DiagnosticsStatusNotification(status="Uploading"))
        await station.call(call.FirmwareStatusNotification(status="Downloaded"))
        unknown = await station.call(call.DataTransfer(vendor_id="Elsewhere", data="x"))
        assert unknown.status == "UnknownVendorId"
        configured = await station.call(call.DataTransfer(vendor_id="ACME", message_id="m"))
        assert configured.status == "Accepted"

        async def flushed() -> dict[str, Any] | None:
            twin = persisted_twin(gw, "GW-TELEMETRY")
            return twin if twin and twin.get("firmware_status") == "Downloaded" else None

        twin = await eventually(flushed)
        assert twin["connected"] is True
        assert twin["diagnostics_status"] == "Uploading"
        assert twin["last_heartbeat"] == beat.current_time
        assert twin["connectors"]["0"]["status"] == "Available"
        assert twin["connectors"]["1"] == {
            "status": "Faulted",
            "error_code": "GroundFailure",
            "info": "RCD tripped",
            "vendor_error_code": "E42",
            "timestamp": None,
            "received_at": twin["connectors"]["1"].get("received_at"),  # our clock
        }
        assert twin["connectors"]["1"]["received_at"].endswith("Z")
        view = await station_view(gw, "GW-TELEMETRY")
        assert view["connectors"][1] == {
            "id": 1,
            "status": "Faulted",
            "error_code": "GroundFailure",
        }

    async def disconnected() -> bool:
        twin = persisted_twin(gw, "GW-TELEMETRY")
        return twin is not None and twin["connected"] is False

    await eventually(disconnected)


# -- strict framing on a live connection ---------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", "FormationViolation"),
        ('[2,"b1","Heartbeat",[]]', "FormationViolation"),
        ('[9,"b2","Heartbeat",{}]', "ProtocolError"),
        ('[2,"b3","BootNotification",{"chargePointVendor":"v"}]', "ProtocolError"),
        (
            '[2,"b4","StatusNotification",{"connectorId":"1","errorCode":"NoError",'
            '"status":"Available"}]',
            "TypeConstraintViolation",
        ),
        (
            '[2,"b5","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
            '"status":"Sleeping"}]',
            "PropertyConstraintViolation",
        ),
        ('[2,"b6","Heartbeat",{"extra":1}]', "FormationViolation"),
        ('[2,"b7","TeleportCar",{}]', "NotImplemented"),
        ('[2,"b8","RemoteStartTransaction",{"idTag":"T"}]', "NotSupported"),
    ],
)
async def test_a_bad_frame_mid_session_gets_its_call_error_and_the_session_goes_on(
    gw: ServedNode, frame: str, code: str
) -> None:
    async with websockets.connect(f"{gw.ocpp_url}/GW-BAD", subprotocols=OCPP) as ws:
        await ws.send('[2,"ok-1","Heartbeat",{}]')
        assert json.loads(await ws.recv())[0] == 3
        await ws.send(frame)
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error[0] == 4
        assert error[2] == code
        assert error[1] == (json.loads(frame)[1] if frame.startswith("[") else "-1")
        await ws.send('[2,"ok-2","Heartbeat",{}]')
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert answer[:2] == [3, "ok-2"]


async def test_an_answer_we_did_not_ask_for_is_dropped_and_the_session_goes_on(
    gw: ServedNode,
) -> None:
    async with websockets.connect(f"{gw.ocpp_url}/GW-UNSOLICITED", subprotocols=OCPP) as ws:
        await ws.send('[3,"never-asked",{"status":"Accepted"}]')
        await ws.send('[4,"never-asked","GenericError","",{}]')
        await ws.send('[3,"broken"]')
        await ws.send('[2,"after","Heartbeat",{}]')
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert answer[:2] == [3, "after"]  # nothing was sent back for the three answers
    assert "answers no CALL of ours" in gw.log()


async def test_a_frame_above_the_size_limit_closes_with_1009(gw: ServedNode) -> None:
    async with websockets.connect(f"{gw.ocpp_url}/GW-BIG", subprotocols=OCPP) as ws:
        await ws.send(json.dumps([2, "big", "DataTransfer", {"vendorId": "v", "data": "x" * 5000}]))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


# -- handshake -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [("/ocpp/bad%20id", 400), ("/ocpp/" + "x" * 49, 400), ("/elsewhere/CP", 404)],
)
async def test_a_bad_path_or_station_id_is_refused(gw: ServedNode, path: str, status: int) -> None:
    base = gw.ocpp_url.removesuffix("/ocpp")
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(f"{base}{path}", subprotocols=OCPP):
            pass
    assert refused.value.response.status_code == status


def raw_upgrade(url: str, station_id: str) -> socket.socket:
    """A WebSocket handshake by hand, leaving a socket that we can make go silent."""
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ocpp/{station_id} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


async def test_a_client_that_never_sends_its_handshake_is_dropped(gw: ServedNode) -> None:
    host, port = gw.ocpp_url.removeprefix("ws://").split("/")[0].split(":")

    def wait_for_close() -> float:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""
            return time.monotonic() - started

    assert await asyncio.to_thread(wait_for_close) < 4.0


# -- keepalive -----------------------------------------------------------------------


async def test_a_silent_socket_is_noticed_by_keepalive_and_shown_disconnected(
    gw: ServedNode,
) -> None:
    sock = await asyncio.to_thread(raw_upgrade, gw.ocpp_url, "GW-SILENT")
    try:
        assert (await station_view(gw, "GW-SILENT"))["connected"] is True
        started = time.monotonic()

        async def gone() -> bool:
            return (await station_view(gw, "GW-SILENT"))["connected"] is False

        await eventually(gone, timeout=10)
        # ping interval 0.5 s + ping timeout 0.5 s, noticed by a sweep within a tick
        assert time.monotonic() - started < 4.0
    finally:
        sock.close()
    assert "did not answer a ping" in gw.log()


async def test_a_station_that_answers_pings_stays_connected(gw: ServedNode) -> None:
    async with connected_station(gw, "GW-ALIVE") as station:
        await station.boot()
        await asyncio.sleep(2.0)  # four ping intervals without a word from the station
        assert (await station_view(gw, "GW-ALIVE"))["connected"] is True
        await station.call(call.Heartbeat())


# -- takeover (I8) -------------------------------------------------------------------


async def test_a_newer_connection_takes_over_and_commands_go_to_it(gw: ServedNode) -> None:
    """I8: the newer connection takes over, the older is closed, commands go to the newer."""
    async with connected_station(gw, "GW-TAKE") as older:
        await older.boot()
        async with connected_station(gw, "GW-TAKE") as newer:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(older._connection.recv(), 5)
            assert older._connection.close_code == 1000
            assert "superseded" in (older._connection.close_reason or "")
            # A reconnect without a new BootNotification, as real stations do.
            await newer.call(call.Heartbeat())
            async with gw.client() as api:
                sent = await api.post(
                    "/api/stations/GW-TAKE/commands/remote-start",
                    json={"connector_id": 1, "id_tag": "TAG-1"},
                    headers={"Idempotency-Key": "gw-take-1"},
                )
                assert sent.status_code == 202

                async def accepted() -> Any:
                    view = (await api.get("/api/commands/gw-take-1")).json()
                    return view if view.get("status") == "accepted" else None

                await eventually(accepted)
            assert [name for name, _ in newer.received] == ["RemoteStartTransaction"]
            assert older.received == []
            assert (await station_view(gw, "GW-TAKE"))["connected"] is True


async def test_a_dead_older_socket_never_locks_the_station_out(gw: ServedNode) -> None:
    dead = await asyncio.to_thread(raw_upgrade, gw.ocpp_url, "GW-DEAD")
    try:
        started = time.monotonic()
        async with connected_station(gw, "GW-DEAD") as station:
            boot = await asyncio.wait_for(station.boot(), 10)
            assert boot.status == "Accepted"
            # the older never answers our close: it is cut after the 1 s close timeout
            assert time.monotonic() - started < 5.0
            assert (await station_view(gw, "GW-DEAD"))["connected"] is True
    finally:
        dead.close()


async def test_frames_from_a_superseded_connection_are_not_handled(gw: ServedNode) -> None:
    """I8: a superseded connection can no longer act: its frames are not handled."""
    old = await asyncio.to_thread(raw_upgrade, gw.ocpp_url, "GW-FENCE")
    try:
        # The newer connection waits for the older to close; the older ignores our close
        # frame, so it stays open for the close timeout: its frames then must be ignored.
        async with contextlib.AsyncExitStack() as stack:
            newer = asyncio.create_task(
                stack.enter_async_context(connected_station(gw, "GW-FENCE"))
            )
            await asyncio.sleep(0.3)
            assert not newer.done()  # still waiting for the older to go
            frame = _masked_text(
                '[2,"late","StatusNotification",{"connectorId":1,'
                '"errorCode":"NoError","status":"Faulted"}]'
            )
            await asyncio.to_thread(old.sendall, frame)  # the older is still open here
            station = await asyncio.wait_for(newer, 10)
            await station.call(call.Heartbeat())
            await asyncio.sleep(0.3)
            view = await station_view(gw, "GW-FENCE")
            assert view["connected"] is True
            assert view["connectors"] == []
    finally:
        old.close()


def _masked_text(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\x00\x00\x00\x00" + payload


async def test_a_storm_of_reconnects_leaves_exactly_one_live_connection(gw: ServedNode) -> None:
    """I8: a storm of reconnects leaves exactly one live connection."""
    connections = []
    for _ in range(8):
        connections.append(await websockets.connect(f"{gw.ocpp_url}/GW-STORM", subprotocols=OCPP))
    last = connections[-1]
    try:
        await last.send('[2,"s","Heartbeat",{}]')
        assert json.loads(await asyncio.wait_for(last.recv(), 5))[0] == 3
        for older in connections[:-1]:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(older.recv(), 5)
        assert (await station_view(gw, "GW-STORM"))["connected"] is True
    finally:
        for connection in connections:
            await connection.close()
