"""The listener in-process on a real 127.0.0.1 socket: takeover of an older
connection of the same station (I8), fencing from another node, the connection
cap, and, out of file descriptors, each failed accept on its port (asyncio reports
one a second, with a traceback) as one counted line per interval while reports
about anything else still reach the handler before ours."""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sys
from collections.abc import AsyncIterator

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from chargeledger.adapters.ocpp.gateway import OcppGateway
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.bootstrap import gateway_options
from chargeledger.config import Settings
from tests.conftest import free_port
from tests.unit.adapters.ocpp.gateway_support import new_gateway

CONNECT_ON_CUE = """
import socket, sys
port = int(sys.argv[1])
sys.stdin.readline()
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(30)]
print("connected", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
async def listening() -> AsyncIterator[tuple[OcppGateway, int]]:
    gateway = new_gateway()
    port = free_port()
    await gateway.start("127.0.0.1", port)
    try:
        yield gateway, port
    finally:
        await gateway.stop()


async def test_accept_errors_make_one_line_with_a_count_not_a_traceback_each(
    listening: tuple[OcppGateway, int], caplog: pytest.LogCaptureFixture
) -> None:
    _, port = listening
    clients = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CONNECT_ON_CUE,
        str(port),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert clients.stdin is not None and clients.stdout is not None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    caplog.set_level(logging.INFO)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 4, hard))
        clients.stdin.write(b"go\n")
        await clients.stdin.drain()
        assert await asyncio.wait_for(clients.stdout.readline(), 10) == b"connected\n"
        await asyncio.sleep(2.5)  # asyncio tries the accept again every second
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        clients.stdin.write(b"done\n")
        await clients.stdin.drain()
        await asyncio.wait_for(clients.wait(), 10)
    ours = [r for r in caplog.records if "cannot accept a connection" in r.getMessage()]
    assert len(ours) == 1 and "Too many open files" in ours[0].getMessage()
    assert not [r for r in caplog.records if "out of system resource" in r.getMessage()]


async def connect(port: int, station_id: str) -> ClientConnection:
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/{station_id}", subprotocols=[Subprotocol("ocpp1.6")]
    )


async def live_session(gateway: OcppGateway, station_id: str, epoch: int = 0) -> StationSession:
    for _ in range(200):
        session = gateway.session(station_id)
        if session is not None and session.epoch > epoch:
            return session
        await asyncio.sleep(0.01)
    raise AssertionError(f"no newer connection of {station_id} went live")


async def test_a_newer_connection_of_a_station_takes_over_and_closes_the_older(
    listening: tuple[OcppGateway, int],
) -> None:
    gateway, port = listening
    async with await connect(port, "T-1") as older:
        first = await live_session(gateway, "T-1")
        async with await connect(port, "T-1"):
            second = await live_session(gateway, "T-1", first.epoch)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(older.recv(), 5)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                1000,
                "superseded by a newer connection",
            )
            assert first.fenced and not second.fenced
            assert gateway.connected_count == 1
            assert gateway.held_here() == {"T-1": second.epoch}


async def test_another_node_taking_a_station_closes_it_here(
    listening: tuple[OcppGateway, int],
) -> None:
    gateway, port = listening
    async with await connect(port, "F-1") as ws, await connect(port, "F-2") as other:
        session = await live_session(gateway, "F-1")
        await live_session(gateway, "F-2")
        gateway.fence("F-1", session.epoch)  # not newer: nothing happens
        gateway.fence("F-1", session.epoch + 1)
        assert gateway.session("F-1") is None and session.closed
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        gateway.drop_all("lease lapsed")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(other.recv(), 5)
        assert gateway.held_here() == {}


async def test_a_connection_over_the_cap_is_answered_503_at_once() -> None:
    gateway = new_gateway(gateway_options(Settings(max_ocpp_connections=1)))
    port = free_port()
    await gateway.start("127.0.0.1", port)
    try:
        async with await connect(port, "C-1"):
            with pytest.raises(InvalidStatus) as refused:
                await connect(port, "C-2")
            assert refused.value.response.status_code == 503
            assert refused.value.response.headers["Retry-After"] == "10"
    finally:
        await gateway.stop()
