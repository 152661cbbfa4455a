"""A real ``chargeledger serve`` process on 127.0.0.1, and stations made from the
``ocpp`` package's ``ChargePoint``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.typing import Subprotocol

from tests.conftest import free_port

TOKEN = "test-token"


@dataclass
class ServedNode:
    process: subprocess.Popen[bytes]
    store: str
    ocpp_url: str
    api_url: str
    log_path: Path
    args: list[str] = field(default_factory=list)

    def client(self, token: str | None = TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.api_url, headers=headers, timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_node(
    tmp_path: Path, *extra: str, store: str | None = None, max_files: int | None = None
) -> ServedNode:
    """``chargeledger serve`` on free ports, healthy; ``max_files`` is its ``ulimit -n``
    from its start (the caps it derives from that limit follow)."""
    ocpp_port, api_port = free_port(), free_port()
    store = store or f"sqlite:///{tmp_path / 'node.db'}"
    log_path = tmp_path / f"node-{api_port}.log"
    args = [
        sys.executable,
        "-m",
        "chargeledger.entrypoints.cli",
        "--log-level",
        "INFO",
        "serve",
        "--store",
        store,
        "--ocpp-port",
        str(ocpp_port),
        "--api-port",
        str(api_port),
        "--api-token",
        TOKEN,
        "--unknown-stations",
        "accept",
        *extra,
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=None if max_files is None else _file_limit(max_files),
        )
    node = ServedNode(
        process,
        store,
        f"ws://127.0.0.1:{ocpp_port}/ocpp",
        f"http://127.0.0.1:{api_port}",
        log_path,
        args,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"node exited early:\n{node.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{node.api_url}/healthz", timeout=1).status_code == 200:
                return node
        time.sleep(0.1)
    node.stop(signal.SIGKILL)
    raise RuntimeError(f"node did not become healthy:\n{node.log()}")


def _file_limit(files: int) -> Callable[[], None]:
    def limit() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, hard))

    return limit


@pytest.fixture
def node(tmp_path: Path) -> Iterator[ServedNode]:
    served = start_node(tmp_path)
    try:
        yield served
    finally:
        served.stop()


class Station(ChargePoint):  # type: ignore[misc]
    """A station under test: answers our CALLs as told and counts what it received."""

    def __init__(self, station_id: str, connection: Any) -> None:
        super().__init__(station_id, connection)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.remote_start_answer = "Accepted"
        self.answer_delay_s = 0.0

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, **payload: Any) -> Any:
        self.received.append(("RemoteStartTransaction", payload))
        if self.answer_delay_s:
            await asyncio.sleep(self.answer_delay_s)
        return call_result.RemoteStartTransaction(status=self.remote_start_answer)

    async def boot(self) -> Any:
        return await self.call(
            call.BootNotification(charge_point_vendor="test", charge_point_model="e2e")
        )


@contextlib.asynccontextmanager
async def connected_station(
    node: ServedNode, station_id: str, station_type: type[Station] = Station, **connect: Any
) -> AsyncIterator[Station]:
    async with websockets.connect(
        f"{node.ocpp_url}/{station_id}", subprotocols=[Subprotocol("ocpp1.6")], **connect
    ) as ws:
        station = station_type(station_id, ws)
        reader = asyncio.create_task(station.start())
        try:
            yield station
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


async def eventually(check: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async ``check`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; last value {value!r}")
        await asyncio.sleep(interval)
