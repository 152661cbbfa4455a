"""Issue 10 end to end, the HTTP side: what a hostile API client can do to a served
node (``chargeledger serve``, a real process) — huge bodies without a token, slow
and idle connections by the thousand, numbers at the edges — and a store that
stops accepting writes under a running node. Each of these broke main."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import resource
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from tests.e2e.conftest import ServedNode, start_node
from tests.e2e.floods import flood

MB = 1024 * 1024


def rss_bytes(node: ServedNode) -> int:
    status = Path(f"/proc/{node.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


async def register(client: httpx.AsyncClient, station_id: str) -> None:
    assert (await client.post("/api/registry/stations", json={"id": station_id})).status_code == 201


def api_port(node: ServedNode) -> int:
    return int(node.api_url.rsplit(":", 1)[1])


async def post_huge_body(node: ServedNode, headers: str, size: int = 100 * MB) -> bytes:
    """Sends a request with a ``size``-byte body as fast as the node takes it; returns
    whatever answer arrived (empty if the node closed without one)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api_port(node))
    head = f"POST /api/registry/stations HTTP/1.1\r\nhost: x\r\n{headers}\r\n"
    chunked = "transfer-encoding: chunked" in headers
    chunk = b"0" * MB
    sent = 0
    try:
        writer.write(head.encode())
        while sent < size:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
            sent += len(chunk)
    except ConnectionError:
        pass  # the node closed its end: what it answered is already on our side
    try:
        return await asyncio.wait_for(reader.read(4096), 5)
    except (ConnectionError, TimeoutError):
        return b""
    finally:
        writer.close()


async def test_huge_bodies_without_a_token_never_grow_the_node(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        before = rss_bytes(node)
        unauthenticated = "content-type: application/json\r\ncontent-length: 104857600\r\n"
        answers = await asyncio.gather(*(post_huge_body(node, unauthenticated) for _ in range(4)))
        too_big = "authorization: Bearer test-token\r\ntransfer-encoding: chunked\r\n"
        answers.append(await post_huge_body(node, too_big))
        grown = rss_bytes(node) - before
        assert grown < 16 * MB, f"the node grew by {grown / MB:.0f} MB"
        for answer in answers[:4]:
            assert answer == b"" or answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert answers[4] == b"" or answers[4].startswith(b"HTTP/1.1 413"), answers[4][:200]
        async with node.client() as client:  # and it still serves
            await register(client, "OK-1")
        assert "Traceback" not in node.log()
    finally:
        node.stop()


async def test_a_declared_oversize_body_is_413_before_it_is_sent(tmp_path: Path) -> None:
    node = start_node(tmp_path, "--max-body-bytes", "1000")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", api_port(node))
        writer.write(
            b"PUT /api/id-tags/T1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer test-token\r\n"
            b"content-type: application/json\r\ncontent-length: 1001\r\n\r\n"
        )
        answer = await asyncio.wait_for(reader.read(), 5)  # no body sent, yet answered
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413")
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["error"] == "PayloadTooLarge" and "1000 bytes" in body["detail"]
    finally:
        node.stop()


def _hold(port: int, source: str, count: int) -> list[socket.socket]:
    held = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        held.append(sock)
    return held


def _answer_of(sock: socket.socket, within_s: float) -> bytes:
    sock.settimeout(within_s)
    try:
        return sock.recv(4096)
    except (TimeoutError, ConnectionError):
        return b"(none)"


def _read_until_closed(sock: socket.socket, within_s: float) -> tuple[bytes, float]:
    """What arrives until the node closes the connection, and how long after the last
    bytes it closed; fails if it is still open ``within_s`` after them."""
    sock.settimeout(within_s)
    received = b""
    last = time.monotonic()
    while chunk := sock.recv(4096):  # a timeout raises: the node kept it open
        received += chunk
        last = time.monotonic()
    return received, time.monotonic() - last


async def test_slow_and_idle_connections_are_bounded_and_stations_still_connect(
    tmp_path: Path,
) -> None:
    node = start_node(
        tmp_path,
        "--http-header-timeout",
        "1",
        "--max-http-connections",
        "60",
        "--max-http-connections-per-client",
        "20",
        "--http-keep-alive",
        "1",
    )
    held: list[socket.socket] = []
    try:
        port = api_port(node)
        started = time.monotonic()
        # Idle, as a flood of half-open clients; from an address of its own, as the
        # first 20 are the ones let in only if no other connection of that address is
        # still counted (start_node's health checks come from 127.0.0.1, and the node
        # may accept the flood before it reads the end of the last one).
        held = _hold(port, "127.0.0.9", 150)
        refused = [_answer_of(sock, 2) for sock in held[20:40]]
        assert all(a.startswith(b"HTTP/1.1 503") for a in refused), refused[:2]
        assert b"TooManyConnections" in refused[0]
        assert time.monotonic() - started < 30  # refused at once, not held
        # Another client address is served meanwhile; so is a station on the OCPP port.
        other = _hold(port, "127.0.0.2", 1)[0]
        other.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        assert _answer_of(other, 5).startswith(b"HTTP/1.1 200")
        other.close()
        async with websockets.connect(
            f"{node.ocpp_url}/STATION-1", subprotocols=[Subprotocol("ocpp1.6")]
        ) as ws:
            await ws.send('[2,"b1","Heartbeat",{}]')
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))[0] == 3
        # A slow loris and the idle ones admitted are cut off at the header deadline.
        loris = _hold(port, "127.0.0.3", 1)[0]
        loris.sendall(b"GET /healthz HTTP/1.1\r\n")
        loris_started = time.monotonic()
        for byte in b"host: x\r\n":
            loris.sendall(bytes([byte]))
            await asyncio.sleep(0.1)
        assert _answer_of(loris, 3).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - loris_started < 3
        loris.close()
        cut_off = [_answer_of(sock, 3) for sock in held[:20]]
        assert all(a.startswith(b"HTTP/1.1 408") for a in cut_off), set(cut_off)
        # A client that got its answer and keeps the connection idle is let go too.
        idle = _hold(port, "127.0.0.4", 1)[0]
        idle.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        received, idle_s = _read_until_closed(idle, 5)
        assert received.startswith(b"HTTP/1.1 200"), received
        assert idle_s < 3  # the keep-alive timeout (1 s), not the client, ended it
        idle.close()
        log = node.log()
        assert "Traceback" not in log and "Too many open files" not in log
    finally:
        for sock in held:
            sock.close()
        node.stop()


def _limit_file_size(node: ServedNode, size: int) -> None:
    _, hard = resource.prlimit(node.process.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(node.process.pid, resource.RLIMIT_FSIZE, (size, hard))


async def test_a_store_that_cannot_write_makes_the_node_not_ready(tmp_path: Path) -> None:
    """Files cannot be made read-only for root (the tests may run as root), so the
    node is denied writes the way a full disk denies them: RLIMIT_FSIZE on the
    running process makes every write to the SQLite file and its WAL fail."""
    node = start_node(tmp_path)
    try:
        async with node.client() as client:
            await register(client, "CP-1")
            assert (await client.get("/readyz")).status_code == 200
            _limit_file_size(node, 1)
            try:
                ready = await client.get("/readyz")
                health = await client.get("/healthz")
                start = await client.post(
                    "/api/stations/CP-1/commands/remote-start",
                    json={"connector_id": 1, "id_tag": "TAG"},
                )
            finally:
                _limit_file_size(node, resource.RLIM_INFINITY)
            assert ready.status_code == 503
            body = ready.json()
            assert body["status"] == "not ready"
            assert body["checks"]["store"]["ok"] is False
            assert "check the disk/database" in body["checks"]["store"]["detail"]
            assert body["checks"]["gateway"] == {"ok": True, "detail": "listening for stations"}
            assert health.status_code == 200 and health.json()["store"]["ok"] is False
            assert start.status_code == 503, start.text
            assert start.json()["error"] == "StoreUnavailable"
            # and /metrics counts the failed writes (it "showed nothing" on main)
            metrics = (await client.get("/metrics")).text
            failed = re.search(
                r'chargeledger_store_errors_total\{operation="append"\} (\S+)', metrics
            )
            assert failed is not None and float(failed.group(1)) >= 1, metrics[-2000:]
            # Writes come back: so does readiness.
            deadline = time.monotonic() + 10
            while (await client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, (await client.get("/readyz")).text
                await asyncio.sleep(0.2)
    finally:
        node.stop()


EDGES: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
    (
        "post",
        "/api/stations/CP-1/commands/remote-start",
        {"connector_id": 2**63, "id_tag": "T"},
        {},
    ),
    ("post", "/api/stations/CP-1/commands/remote-start", {"connector_id": True, "id_tag": "T"}, {}),
    ("post", "/api/stations/CP-1/commands/remote-start", {"connector_id": "1", "id_tag": "T"}, {}),
    ("post", "/api/stations/CP-1/commands/remote-start", {"connector_id": 1.0, "id_tag": "T"}, {}),
    ("post", "/api/stations/CP-1/commands/remote-stop", {"transaction_id": 2**63}, {}),
    (
        "post",
        "/api/stations/CP-1/commands/reserve-now",
        {"connector_id": 1, "id_tag": "T", "expiry_date": "9999-12-31T23:59:59-23:59"},
        {},
    ),
    ("put", "/api/id-tags/T1", {"expiry": "9999-12-31T23:59:59-23:59"}, {}),
    ("put", "/api/id-tags/T1", {"expiry": "0001-01-01T00:00:00+14:00"}, {}),
    ("put", "/api/id-tags/T%00X", {"status": "Accepted"}, {}),  # PostgreSQL text holds no NUL
    (
        "put",
        "/api/charging-profiles/1",
        {
            "stack_level": 0,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": {
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 1e308}],
            },
        },
        {},
    ),
    (
        "put",
        f"/api/charging-profiles/{2**63}",
        {
            "stack_level": 0,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": {
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 1}],
            },
        },
        {},
    ),
    ("put", "/api/local-lists/%2E%2E", {"entries": []}, {}),
    ("put", "/api/local-lists/.", {"entries": []}, {}),
    ("get", f"/api/stations/CP-1/events?from_version={2**63}", None, {}),
    ("get", f"/api/stations?min_position={2**64}", None, {}),
    ("get", "/api/stations?limit=-1", None, {}),
    ("get", f"/api/commands?limit={2**70}", None, {}),
    ("get", "/api/events/stream", None, {"Last-Event-ID": str(2**63)}),
    ("get", "/api/events/stream", None, {"Last-Event-ID": "garbage"}),
    ("post", "/api/registry/stations", {"id": ".."}, {}),
    ("post", "/api/registry/stations", {"id": "."}, {}),
    ("get", "/api/stations/%2E%2E", None, {}),
]


async def test_numbers_dates_and_ids_at_the_edges_are_4xx_with_a_reason(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        async with node.client() as client:
            await register(client, "CP-1")
            for method, path, body, headers in EDGES:
                response = await client.request(method, path, json=body, headers=headers)
                assert 400 <= response.status_code < 500, (path, body, response.text)
                problem = response.json()
                assert problem["error"] and problem["detail"], (path, problem)
        assert "Traceback" not in node.log()
    finally:
        node.stop()


async def test_an_event_stream_from_a_valid_last_event_id_stays_open(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        async with (
            node.client() as client,
            client.stream("GET", "/api/events/stream", headers={"Last-Event-ID": "0"}) as stream,
        ):
            assert stream.status_code == 200
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    async for _ in stream.aiter_text():
                        pass
    finally:
        node.stop()


async def test_an_http_flood_leaves_descriptors_for_stations(tmp_path: Path) -> None:
    node = start_node(tmp_path, max_files=256)  # default caps: 64, 16 per client
    held: list[socket.socket] = []
    try:
        sources = [f"127.0.0.{n}" for n in range(2, 12)]
        held = flood(api_port(node), sources, 40)
        await asyncio.sleep(0.5)
        async with websockets.connect(
            f"{node.ocpp_url}/STATION-1", subprotocols=[Subprotocol("ocpp1.6")]
        ) as ws:
            await ws.send('[2,"b1","Heartbeat",{}]')
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))[0] == 3
        answers = [_answer_of(sock, 0.5) for sock in held[-10:]]
        assert all(a.startswith(b"HTTP/1.1 503") for a in answers), answers[:2]
        log = node.log()
        assert "Traceback" not in log and "Too many open files" not in log
    finally:
        for sock in held:
            sock.close()
        node.stop()


async def test_refused_connections_hold_no_descriptors(tmp_path: Path) -> None:
    """Room for the API's 64 connections and the node's own files, none for the ones it
    refuses: each is answered and closed as it is accepted. asyncio accepted up to a
    listen backlog of them per wake and closed them two or three wakes later, so a
    flood on a busy machine held a hundred more than the cap (and ran out at 256)."""
    caps = ("--max-http-connections", "64", "--max-http-connections-per-client", "16")
    node = start_node(tmp_path, *caps, max_files=140)  # 64 + ~20 its own + a station
    held: list[socket.socket] = []
    try:
        held = flood(api_port(node), [f"127.0.0.{n}" for n in range(2, 12)], 40)
        async with websockets.connect(
            f"{node.ocpp_url}/STATION-1", subprotocols=[Subprotocol("ocpp1.6")]
        ) as ws:
            await ws.send('[2,"b1","Heartbeat",{}]')
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))[0] == 3
        assert len(held) == 400
        # 16 of each of the first four addresses are let in; every other one is refused
        refused = [sock for i, sock in enumerate(held) if i >= 4 * 40 or i % 40 >= 16]
        answers = [_answer_of(sock, 0.5) for sock in refused]
        assert all(a.startswith(b"HTTP/1.1 503") for a in answers), set(answers)
        log = node.log()
        assert "Too many open files" not in log, log[-3000:]
    finally:
        for sock in held:
            sock.close()
        node.stop()


async def test_running_out_of_descriptors_is_logged_once_per_interval(tmp_path: Path) -> None:
    many = ("--max-http-connections", "5000", "--max-http-connections-per-client", "5000")
    node = start_node(tmp_path, *many, max_files=120)  # caps above what it can hold
    held: list[socket.socket] = []
    started = time.monotonic()
    try:
        held = flood(api_port(node), ["127.0.0.1"], 400)
        await asyncio.sleep(3)
    finally:
        for sock in held:
            sock.close()
        node.stop()
    log = node.log()
    # asyncio's own report of each failed accept (and of each retry it scheduled)
    assert "socket.accept() out of system resource" not in log
    assert "Exception in callback" not in log
    lines = [line for line in log.splitlines() if "could not accept" in line]
    intervals = int((time.monotonic() - started) // 10) + 1  # AcceptErrorLog's 10 s
    assert 1 <= len(lines) <= intervals + 1, lines  # + the retries failing at the stop
    assert "Too many open files" in lines[0]


NOT_TEXT: list[tuple[str, str, str | None]] = [
    ("put", "/api/local-lists/L%00", '{"entries":[]}'),
    ("put", "/api/local-lists/L2", r'{"entries":[{"id_tag":"T\u0000","status":"Accepted"}]}'),
    (
        "put",
        "/api/charging-profiles/5",
        r'{"name":"n\u0000","stack_level":0,"charging_profile_purpose":"TxDefaultProfile",'
        r'"charging_profile_kind":"Absolute","charging_schedule":{"charging_rate_unit":"W",'
        r'"charging_schedule_period":[{"start_period":0,"limit":1}]}}',
    ),
    ("put", "/api/id-tags/T%ED%A0%80", '{"status":"Accepted"}'),  # stored as T\ufffd\ufffd\ufffd
    ("get", "/api/commands/%00", None),
    ("get", "/api/commands?station=%00", None),
    ("get", "/api/transactions?station=%00", None),
    ("get", "/api/stations?cursor=" + "A" * 40, None),  # a cursor of twenty-nine U+0000
    ("post", "/api/stations/CP-1/commands/remote-start", r'{"id_tag":"T\u0000"}'),
    ("post", "/api/stations/CP-1/commands/change-configuration", r'{"key":"K\u0000","value":"v"}'),
    ("post", "/api/stations/CP-1/commands/data-transfer", r'{"vendor_id":"v","data":"a\u0000"}'),
    ("post", "/api/stations/CP-1/commands/data-transfer", r'{"vendor_id":"v","data":"\ud800"}'),
]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_text_no_store_keeps_is_422_on_either_store(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    """U+0000, a lone surrogate or a path that is not UTF-8 anywhere in a request: each
    was a 500 on PostgreSQL (text and JSONB hold no U+0000), the surrogate on SQLite
    too, and the path stored garbled."""
    url = request.getfixturevalue("postgres_dsn") if store == "postgres" else None
    node = start_node(tmp_path, store=url)
    try:
        async with node.client() as client:
            await register(client, "CP-1")
            for method, path, body in NOT_TEXT:
                response = await client.request(
                    method, path, content=body, headers={"content-type": "application/json"}
                )
                assert response.status_code == 422, (path, body, response.text)
                assert response.json()["error"] == "ValidationError", (path, response.text)
            tags = (await client.get("/api/id-tags")).json()
            assert tags == [], tags
            emoji = r'{"vendor_id":"v","data":"\ud83d\ude00 \\u0000"}'  # real text, escaped
            sent = await client.post(
                "/api/stations/CP-1/commands/data-transfer",
                content=emoji,
                headers={"content-type": "application/json"},
            )
            assert sent.status_code == 202, sent.text
        assert "Traceback" not in node.log()
    finally:
        node.stop()
