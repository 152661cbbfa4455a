"""The gateway in-process, out of file descriptors: each failed accept on its port
(asyncio reports one a second, with a traceback) becomes one counted line per
interval; reports about anything else still reach the handler before ours."""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore, InMemoryEventStore
from chargeledger.adapters.ocpp.gateway import OcppGateway
from chargeledger.adapters.ocpp.handlers import StationMessages
from chargeledger.adapters.ocpp.v16.operations import OCPP16
from chargeledger.application.command_bus import CommandBus
from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.registry import StationRegistry
from chargeledger.application.twin_service import TwinService
from tests.conftest import free_port
from tests.fakes import FakeClock

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
    clock = FakeClock()
    documents = InMemoryDocumentStore()
    bus = CommandBus(InMemoryEventStore(), clock)
    twin = TwinService(documents)
    dispatcher = Dispatcher(bus, documents, clock, twin, OCPP16)
    gateway = OcppGateway(
        StationMessages(bus, twin, dispatcher, clock),
        twin,
        dispatcher,
        StationRegistry(documents),
        accept_unknown_stations=True,
    )
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


async def test_other_loop_reports_still_reach_the_previous_handler(
    listening: tuple[OcppGateway, int],
) -> None:
    seen: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    ours = loop.get_exception_handler()
    assert ours is not None
    loop.set_exception_handler(None)
    gateway, _ = listening
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    gateway._log_accept_errors_briefly(loop)
    try:
        loop.call_exception_handler({"message": "something else"})
    finally:
        loop.set_exception_handler(ours)
    assert seen == [{"message": "something else"}]
