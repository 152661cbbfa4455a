"""A flood of idle TCP connections on the OCPP port, at a low ``ulimit -n``: each one
over a cap is answered 503 and closed as it is accepted, so the node's descriptors
stay near its caps and a station still connects. asyncio's server accepted up to a
listen backlog (4096) per wake and closed the refused ones wakes later: 400 idle
connections at ``ulimit -n`` 256 ran the node out of descriptors."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import websockets
from websockets.typing import Subprotocol

from tests.e2e.conftest import start_node
from tests.e2e.floods import flood


def _open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _answer_of(sock: socket.socket, within_s: float) -> bytes:
    sock.settimeout(within_s)
    try:
        return sock.recv(400)
    except OSError:
        return b""


async def test_refused_ocpp_connections_hold_no_descriptors(tmp_path: Path) -> None:
    caps = ("--max-ocpp-connections", "64", "--max-ocpp-connections-per-address", "15")
    node = start_node(tmp_path, *caps, max_files=256)
    port = urlparse(node.ocpp_url).port
    assert port is not None
    held: list[socket.socket] = []
    peak = 0
    sampling = True

    def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, _open_files(node.process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        held = flood(port, [f"127.0.0.{n}" for n in range(2, 6)], 100)
        async with websockets.connect(
            f"{node.ocpp_url}/STATION-1", subprotocols=[Subprotocol("ocpp1.6")]
        ) as ws:
            await ws.send('[2,"b1","Heartbeat",{}]')
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))[0] == 3
        assert len(held) == 400
        # 15 of each address are let in (60 of the cap's 64); every other one is refused
        refused = [sock for i, sock in enumerate(held) if i % 100 >= 15]
        answers = [_answer_of(sock, 0.5) for sock in refused]
        assert all(a.startswith(b"HTTP/1.1 503") for a in answers), set(answers)
        log = node.log()
        assert "Too many open files" not in log, log[-3000:]
    finally:
        sampling = False
        sampler.join(5)
        for sock in held:
            sock.close()
        node.stop()
        print(f"descriptor peak: {peak}")
    assert peak < 120, peak  # 64 + its own ~20, not the 256 it may open
