"""``chargeledger bench gateway``: the OCPP gateway under heartbeat load and at rest.

Each server runs in its own process; the load comes from this process over
127.0.0.1, from stations written directly on asyncio sockets (a precomputed
masked frame per heartbeat) so that the load generator costs far less than any
server it measures. Workloads:

- heartbeat round trips per second with 500 connections, each with one
  outstanding heartbeat at a time (the OCPP rule), the median of windows taken
  in turn on each server, against
  * ours: ``chargeledger serve`` (SQLite store, validation, twin updates);
  * a central system written the way the ``ocpp`` package's own example is
    (``ocpp.v16.ChargePoint`` with ``@on`` handlers on ``websockets.serve``),
    with its logging at WARNING so that it is not measured printing;
  * a bare ``websockets`` server that answers every message with a fixed
    CALLRESULT carrying the message id: the floor for a Python server;
- the same heartbeats on our node from stations speaking OCPP 2.0.1, against
  our node's 1.6 stations;
- memory per idle connection and time to accept, at 10,000 connections
  (2,000 with ``--quick``), against the bare ``websockets`` server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import Row

HEARTBEAT_CONNECTIONS = 500
OURS_201 = "ours-201"
"""Our node again, its stations speaking OCPP 2.0.1 (the same heartbeat, 2.0.1's schemas)."""

RAISE_FILE_LIMIT = """
import resource
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
"""

OCPP_EXAMPLE = RAISE_FILE_LIMIT + textwrap.dedent(
    """
    import asyncio, logging, sys
    from datetime import datetime, timezone
    import websockets
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint as cp
    from ocpp.v16 import call_result
    from ocpp.v16.enums import Action, RegistrationStatus

    logging.basicConfig(level=logging.WARNING)

    class ChargePoint(cp):
        @on(Action.boot_notification)
        def on_boot_notification(self, charge_point_vendor, charge_point_model, **kwargs):
            return call_result.BootNotification(
                current_time=datetime.now(timezone.utc).isoformat(),
                interval=10,
                status=RegistrationStatus.accepted,
            )

        @on(Action.heartbeat)
        def on_heartbeat(self):
            return call_result.Heartbeat(current_time=datetime.now(timezone.utc).isoformat())

    async def on_connect(websocket):
        try:
            requested = websocket.request.headers["Sec-WebSocket-Protocol"]
        except KeyError:
            return await websocket.close()
        if not websocket.subprotocol:
            return await websocket.close()
        charge_point = ChargePoint(websocket.request.path.strip("/"), websocket)
        await charge_point.start()

    async def main():
        server = await websockets.serve(
            on_connect, "127.0.0.1", int(sys.argv[1]), subprotocols=["ocpp1.6"]
        )
        await server.wait_closed()

    asyncio.run(main())
    """
)

BARE_ECHO = RAISE_FILE_LIMIT + textwrap.dedent(
    """
    import asyncio, sys
    import websockets

    async def echo(websocket):
        async for message in websocket:
            unique_id = message.split(",", 2)[1]
            await websocket.send('[3,' + unique_id + ',{"currentTime":"2026-01-01T00:00:00Z"}]')

    async def main():
        server = await websockets.serve(
            echo, "127.0.0.1", int(sys.argv[1]), subprotocols=["ocpp1.6"], compression=None
        )
        await server.wait_closed()

    asyncio.run(main())
    """
)

OURS = RAISE_FILE_LIMIT + textwrap.dedent(
    """
    import sys
    from chargeledger.entrypoints.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _raise_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(kind: str, folder: Path) -> Iterator[tuple[int, int]]:
    """Start a server process; yield its OCPP port and pid; stop it."""
    port = _free_port()
    if kind == "ours":
        args = [
            sys.executable,
            "-c",
            OURS,
            "--log-level",
            "WARNING",
            "serve",
            "--store",
            f"sqlite:///{folder / f'bench-{port}.db'}",
            "--ocpp-port",
            str(port),
            "--api-port",
            str(_free_port()),
            "--api-token",
            "bench",
            "--unknown-stations",
            "accept",
            "--ping-interval",
            "300",
        ]
    else:
        args = [sys.executable, "-c", OCPP_EXAMPLE if kind == "ocpp" else BARE_ECHO, str(port)]
    log = open(folder / f"{kind}-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start: {_tail(folder, kind, port)}")
            time.sleep(0.1)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _tail(folder: Path, kind: str, port: int) -> str:
    return (folder / f"{kind}-{port}.log").read_text(errors="replace")[-2000:]


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _masked_text(text: str) -> bytes:
    """A client text frame with an all-zero mask key (legal, and free to apply)."""
    payload = text.encode()
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\x00\x00\x00\x00" + payload


class _LoadStation(asyncio.Protocol):
    """A station reduced to what load needs: handshake, heartbeat, count the answers."""

    def __init__(
        self, station_id: str, opened: asyncio.Future[None], subprotocol: str = "ocpp1.6"
    ) -> None:
        self.station_id = station_id
        self.opened = opened
        self.subprotocol = subprotocol
        self.frame = _masked_text(f'[2,"{station_id}","Heartbeat",{{}}]')
        self.buffer = bytearray()
        self.open = False
        self.keep_going = False
        self.answers = 0
        self.bad = 0
        self.answered: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /ocpp/{self.station_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: {self.subprotocol}\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                if not self.opened.done():
                    self.opened.set_exception(RuntimeError(bytes(self.buffer[:80]).decode()))
                return
            del self.buffer[: end + 4]
            self.open = True
            if not self.opened.done():
                self.opened.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                return
            opcode = buffer[0] & 0x0F
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            if opcode == 0x1:
                self._answered(payload)
            elif opcode == 0x9 and self.transport is not None:  # ping: pong
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    def _answered(self, payload: bytes) -> None:
        if payload.startswith(b"[3,"):
            self.answers += 1
        else:
            self.bad += 1
        if self.answered is not None and not self.answered.done():
            self.answered.set_result(None)
        if self.keep_going and self.transport is not None:
            self.transport.write(self.frame)

    def heartbeat(self) -> None:
        assert self.transport is not None
        self.transport.write(self.frame)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"{self.station_id}: connection lost"))


async def _connect(
    port: int, count: int, prefix: str, in_flight: int, subprotocol: str = "ocpp1.6"
) -> list[_LoadStation]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(in_flight)

    async def one(number: int) -> _LoadStation:
        async with gate:
            opened: asyncio.Future[None] = loop.create_future()
            _, station = await loop.create_connection(
                lambda: _LoadStation(f"{prefix}{number:05}", opened, subprotocol),
                "127.0.0.1",
                port,
            )
            await asyncio.wait_for(opened, 60)
            return station

    return list(await asyncio.gather(*(one(n) for n in range(count))))


def _close_all(stations: list[_LoadStation]) -> None:
    for station in stations:
        if station.transport is not None:
            station.transport.abort()


async def _heartbeat_rates(
    servers: dict[str, tuple[int, int]], rounds: int, window: float
) -> dict[str, tuple[float, float]]:
    """Per server: the median heartbeats/s and the median server CPU seconds per
    heartbeat, over ``rounds`` windows taken in turn (the order rotating), so that
    load from elsewhere on a shared machine falls on all servers alike. CPU per
    heartbeat is the steadier figure when the machine is shared: it does not count
    the time the server waited for a core."""
    fleets = {
        kind: await _connect(
            port,
            HEARTBEAT_CONNECTIONS,
            "HB201-" if kind == OURS_201 else "HB-",
            in_flight=100,
            subprotocol="ocpp2.0.1" if kind == OURS_201 else "ocpp1.6",
        )
        for kind, (port, _) in servers.items()
    }
    rates: dict[str, list[float]] = {kind: [] for kind in servers}
    costs: dict[str, list[float]] = {kind: [] for kind in servers}
    kinds = list(servers)
    try:
        for number in range(rounds):
            for kind in kinds[number % len(kinds) :] + kinds[: number % len(kinds)]:
                rate, cost = await _measure(fleets[kind], servers[kind][1], window)
                rates[kind].append(rate)
                costs[kind].append(cost)
    finally:
        for stations in fleets.values():
            _close_all(stations)
    return {
        kind: (statistics.median(rates[kind]), statistics.median(costs[kind])) for kind in kinds
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(stations: list[_LoadStation], pid: int, window: float) -> tuple[float, float]:
    for station in stations:
        station.keep_going = True
        station.heartbeat()
    await asyncio.sleep(0.3)  # warm up
    before, cpu_before = sum(s.answers for s in stations), _cpu_seconds(pid)
    started = time.perf_counter()
    await asyncio.sleep(window)
    done = sum(s.answers for s in stations) - before
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(pid) - cpu_before
    for station in stations:
        station.keep_going = False
    await asyncio.sleep(0.2)  # let the heartbeats in flight come back
    if any(s.bad for s in stations):
        raise RuntimeError("a server answered a heartbeat with something else than a CALLRESULT")
    return done / elapsed, cpu / max(done, 1)


async def _idle_footprint(port: int, pid: int, count: int) -> tuple[float, float]:
    """(bytes per idle connection, seconds to accept ``count`` connections)."""
    await asyncio.sleep(0.5)
    rss_before = _rss_bytes(pid)
    started = time.perf_counter()
    stations = await _connect(port, count, "IDLE-", in_flight=1000)
    accepted_in = time.perf_counter() - started
    try:
        for station in stations:  # one heartbeat each: the station is fully served
            station.answered = asyncio.get_running_loop().create_future()
            station.heartbeat()
        await asyncio.wait_for(asyncio.gather(*(s.answered for s in stations if s.answered)), 60)
        await asyncio.sleep(1.5)
        rss_after = _rss_bytes(pid)
    finally:
        _close_all(stations)
    return (rss_after - rss_before) / count, accepted_in


def run(quick: bool, postgres: str) -> list[Row]:
    _raise_file_limit()
    rounds, window = (5, 1.0) if quick else (9, 2.0)
    idle = 2_000 if quick else 10_000
    idle_name = f"{idle:,} conns" + (" (quick; full run: 10,000)" if quick else "")
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        folder = Path(tmp)
        with (
            _server("ours", folder) as ours,
            _server("ocpp", folder) as ocpp,
            _server("echo", folder) as echo,
        ):
            servers = {"ours": ours, OURS_201: ours, "ocpp": ocpp, "echo": echo}
            measured = asyncio.run(_heartbeat_rates(servers, rounds, window))
        footprints: dict[str, tuple[float, float]] = {}
        for kind in ("ours", "echo"):
            with _server(kind, folder) as (port, pid):
                footprints[kind] = asyncio.run(_idle_footprint(port, pid, idle))
    conns = f"{HEARTBEAT_CONNECTIONS} conns"
    rate = {kind: figures[0] for kind, figures in measured.items()}
    micros = {kind: figures[1] * 1e6 for kind, figures in measured.items()}
    return [
        Row(
            f"heartbeat round trips, {conns}, vs the ocpp example CSMS",
            "calls/s",
            rate["ours"],
            "ocpp ChargePoint example",
            rate["ocpp"],
        ),
        Row(
            f"heartbeat round trips, {conns}, OCPP 2.0.1 stations vs 1.6 ones",
            "calls/s",
            rate[OURS_201],
            "ours, OCPP 1.6 stations",
            rate["ours"],
        ),
        Row(
            f"server CPU per heartbeat, {conns}, OCPP 2.0.1 stations vs 1.6 ones",
            "us",
            micros[OURS_201],
            "ours, OCPP 1.6 stations",
            micros["ours"],
            higher_is_better=False,
        ),
        Row(
            f"heartbeat round trips, {conns}, vs a bare echo",
            "calls/s",
            rate["ours"],
            "websockets echo (floor)",
            rate["echo"],
        ),
        Row(
            f"server CPU per heartbeat, {conns}, vs the ocpp example CSMS",
            "us",
            micros["ours"],
            "ocpp ChargePoint example",
            micros["ocpp"],
            higher_is_better=False,
        ),
        Row(
            f"server CPU per heartbeat, {conns}, vs a bare echo",
            "us",
            micros["ours"],
            "websockets echo (floor)",
            micros["echo"],
            higher_is_better=False,
        ),
        Row(
            f"memory per idle connection, {idle_name}",
            "KB",
            footprints["ours"][0] / 1024,
            "websockets echo",
            footprints["echo"][0] / 1024,
            higher_is_better=False,
        ),
        Row(
            f"time to accept {idle_name}",
            "s",
            footprints["ours"][1],
            "websockets echo",
            footprints["echo"][1],
            higher_is_better=False,
        ),
    ]
