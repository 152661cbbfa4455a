"""bench commands: operator command -> station CALL -> terminal outcome.

Ours: POST answers 202 once the request is committed; the dispatcher records
``CommandDispatched``, sends the CALL, records the answer. Baseline, in the same
run on the same machine: the HTTP handler sends the CALL itself and waits for the
answer, recording nothing first (the way SteVe and OCPP.Core do it) -- so the
ratio is what the safety costs.

Both servers run as separate processes; the stations (a lean OCPP-J client, so
the load side stays cheap) and the operator client run in this process. The full
run compares them on SQLite and on PostgreSQL at 1,000 stations and on SQLite at
10,000; ``--quick`` on SQLite at 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.typing import Subprotocol

from bench.common import Row

TOKEN = "bench"
RATE_PER_S = 200
IN_FLIGHT = 64
CONNECTORS = 10


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    api: str
    ocpp: str
    store: str

    def cpu_seconds(self) -> float:
        """CPU the server process has used so far (user and system): on a machine that
        other work shares, CPU per command says more than the wall clock does."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _start(mode: str, store: str, heartbeat_s: int) -> Server:
    """``store`` is the node's store URL: a SQLite file or a fresh PostgreSQL database."""
    api_port, ocpp_port = _free_port(), _free_port()
    common = [
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
        "--heartbeat-interval",
        str(heartbeat_s),
    ]
    if mode == "ours":
        args = [sys.executable, "-m", "chargeledger.entrypoints.cli", "serve", *common]
    else:
        args = [sys.executable, "-m", "bench.commands_baseline", *common]
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=root
    )
    server = Server(
        process, f"http://127.0.0.1:{api_port}", f"ws://127.0.0.1:{ocpp_port}/ocpp", store
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.api}/healthz", timeout=1).status_code == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{mode} server did not start")


@dataclass
class Load:
    sent_at: dict[str, float] = field(default_factory=dict)
    call_at: dict[str, float] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)
    heartbeats: int = 0


async def _station(
    url: str,
    station_id: str,
    load: Load,
    heartbeat_s: float,
    stop: asyncio.Event,
    ready: asyncio.Semaphore,
) -> None:
    async with websockets.connect(
        f"{url}/{station_id}",
        subprotocols=[Subprotocol("ocpp1.6")],
        compression=None,
        ping_interval=None,
        open_timeout=60,
    ) as ws:
        await ws.send(
            json.dumps(
                [
                    2,
                    "b",
                    "BootNotification",
                    {"chargePointVendor": "bench", "chargePointModel": "lean"},
                ]
            )
        )
        json.loads(await ws.recv())
        ready.release()

        async def beat() -> None:
            n = 0
            # The run's end closes the socket under a beat that was about to go out.
            with contextlib.suppress(websockets.ConnectionClosed):
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), heartbeat_s)
                    if stop.is_set():
                        break
                    n += 1
                    await ws.send(json.dumps([2, f"h{n}", "Heartbeat", {}]))
                    load.heartbeats += 1

        beater = asyncio.create_task(beat())
        try:
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                message = json.loads(raw)
                if message[0] == 2:
                    if message[2] == "RemoteStartTransaction":
                        load.call_at.setdefault(message[3]["idTag"], time.time())
                    await ws.send(json.dumps([3, message[1], {"status": "Accepted"}]))
        except websockets.ConnectionClosed:
            pass
        finally:
            beater.cancel()


def _pairs(stations: int) -> list[tuple[str, int]]:
    return [(f"B{s:05d}", c) for c in range(1, CONNECTORS + 1) for s in range(stations)]


class LeanHttp:
    """A minimal HTTP/1.1 keep-alive client for the operator's load. httpx spends more
    CPU per request than the server under test does, and the load shares the machine's
    two cores with the server: the harness must not be what is measured."""

    def __init__(self, base_url: str, connections: int) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self._host, self._port = host, int(port)
        self._size = connections
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self._opened = 0

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self._idle.empty() and self._opened < self._size:
            self._opened += 1
            self._idle.put_nowait(await asyncio.open_connection(self._host, self._port))
        reader, writer = await self._idle.get()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await reader.readexactly(length)
        self._idle.put_nowait((reader, writer))
        return int(status_line.split()[1]), payload

    async def close(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()


async def _post(
    client: LeanHttp, mode: str, station: str, connector: int, tag: str, load: Load
) -> None:
    path = (
        f"/api/stations/{station}/commands/remote-start"
        if mode == "ours"
        else f"/baseline/{station}/remote-start"
    )
    body = json.dumps({"connector_id": connector, "id_tag": tag}).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": tag}
    load.sent_at[tag] = time.time()
    status, answer = await client.post(path, body, headers)
    if status >= 300:
        raise RuntimeError(f"{mode}: {status} {answer[:300]!r}")
    load.answered_at[tag] = time.time()


async def _drive(
    server: Server, mode: str, stations: int, seconds: float, heartbeat_s: float
) -> tuple[Load, Load, float, float]:
    """The paced load, the burst, the burst's commands/s, and the server's CPU
    milliseconds per command over both phases."""
    stop = asyncio.Event()
    ready = asyncio.Semaphore(0)
    load = Load()
    station_tasks = [
        asyncio.create_task(_station(server.ocpp, f"B{n:05d}", load, heartbeat_s, stop, ready))
        for n in range(stations)
    ]
    for _ in range(stations):
        await asyncio.wait_for(ready.acquire(), 120)
    pairs = iter(_pairs(stations))
    client = LeanHttp(server.api, IN_FLIGHT)
    try:
        # Latency at a steady rate: open loop, one command every 1/RATE s.
        paced = Load(call_at=load.call_at)
        cpu_before = server.cpu_seconds()
        pending: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        for n in range(int(RATE_PER_S * seconds)):
            await asyncio.sleep(max(0.0, start + n / RATE_PER_S - time.perf_counter()))
            station, connector = next(pairs)
            pending.append(
                asyncio.create_task(
                    _post(client, mode, station, connector, f"p{n}-{station}-{connector}", paced)
                )
            )
        await asyncio.gather(*pending)
        await _until_received(load, paced.sent_at, 30)
        # Throughput: as fast as IN_FLIGHT concurrent callers go, until every CALL arrived.
        burst = Load(call_at=load.call_at)
        count = int(RATE_PER_S * seconds)
        semaphore = asyncio.Semaphore(IN_FLIGHT)

        async def one(n: int, station: str, connector: int) -> None:
            async with semaphore:
                await _post(client, mode, station, connector, f"t{n}-{station}-{connector}", burst)

        began = time.perf_counter()
        await asyncio.gather(*(one(n, *next(pairs)) for n in range(count)))
        await _until_received(load, burst.sent_at, 60)
        elapsed = time.perf_counter() - began
        cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / (len(paced.sent_at) + count)
    finally:
        await client.close()
    stop.set()
    await asyncio.gather(*station_tasks, return_exceptions=True)
    return paced, burst, count / elapsed, cpu_ms


async def _until_received(load: Load, tags: dict[str, float], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(tag not in load.call_at for tag in tags):
        if time.monotonic() > deadline:
            missing = sum(1 for tag in tags if tag not in load.call_at)
            raise RuntimeError(f"{missing} CALLs never reached their station")
        await asyncio.sleep(0.05)


_REQUESTS = "SELECT data FROM events WHERE type = 'RemoteStartRequested'"
_ENDINGS = "SELECT data, metadata FROM events WHERE type IN ('CommandAccepted', 'CommandRejected')"


def _rows(store: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` in the node's store, JSON columns as dicts on either kind."""
    if store.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store.split("?")[0]) as conn:
            return list(conn.execute(sql).fetchall())
    import sqlite3

    conn = sqlite3.connect(store.removeprefix("sqlite:///"))
    try:
        return [tuple(json.loads(column) for column in row) for row in conn.execute(sql)]
    finally:
        conn.close()


def _terminal_times(store: str) -> dict[str, float]:
    """When each command's terminal event was recorded, by the id tag it carried."""
    tags = {data["command_id"]: data["id_tag"] for (data,) in _rows(store, _REQUESTS)}
    return {
        tags[data["command_id"]]: datetime.fromisoformat(meta["recorded_at"]).timestamp()
        for data, meta in _rows(store, _ENDINGS)
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def _summary(mode: str, server: Server, paced: Load) -> dict[str, float]:
    to_call = [(paced.call_at[t] - s) * 1000 for t, s in paced.sent_at.items()]
    if mode == "ours":
        ended = _terminal_times(server.store)
        to_end = [(ended[t] - s) * 1000 for t, s in paced.sent_at.items() if t in ended]
    else:
        to_end = [(paced.answered_at[t] - s) * 1000 for t, s in paced.sent_at.items()]
    return {
        "call_p50": _percentile(to_call, 50),
        "call_p99": _percentile(to_call, 99),
        "end_p50": _percentile(to_end, 50),
        "end_p99": _percentile(to_end, 99),
    }


def run(quick: bool, postgres: str) -> list[Row]:
    """Quick: SQLite at 200 stations. Full: SQLite and PostgreSQL at 1,000 stations,
    and SQLite at 10,000."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    if os.environ.get("CHARGELEDGER_BENCH_COMMANDS"):
        setups = _setups(os.environ["CHARGELEDGER_BENCH_COMMANDS"])
    elif quick:
        setups = [("sqlite", 200, 4.0)]
    else:
        setups = [("sqlite", 1000, 15.0), ("postgresql", 1000, 15.0), ("sqlite", 10_000, 10.0)]
    rows: list[Row] = []
    for kind, stations, seconds in setups:
        rows += _compare(kind, stations, seconds, postgres)
    return rows


def _setups(spec: str) -> list[tuple[str, int, float]]:
    """``CHARGELEDGER_BENCH_COMMANDS=postgresql:1000:15,sqlite:200:4``: only these
    setups (store, stations, seconds of paced load), to look at one row at a time."""
    setups = []
    for part in spec.split(","):
        kind, stations, seconds = part.strip().split(":")
        if kind not in ("sqlite", "postgresql"):
            raise ValueError(f"CHARGELEDGER_BENCH_COMMANDS: unknown store {kind!r}")
        setups.append((kind, int(stations), float(seconds)))
    return setups


def _compare(kind: str, stations: int, seconds: float, postgres: str) -> list[Row]:
    from bench.store import PostgresSide

    heartbeat_s = 10.0
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as workdir:
        for mode in ("ours", "baseline"):
            side = PostgresSide(postgres) if kind == "postgresql" else None
            store = side.fresh_url() if side else f"sqlite:///{Path(workdir) / mode}.db"
            server = _start(mode, store, int(heartbeat_s))
            try:
                paced, _, throughput, cpu_ms = asyncio.run(
                    _drive(server, mode, stations, seconds, heartbeat_s)
                )
                server.stop()
                results[mode] = {
                    **_summary(mode, server, paced),
                    "throughput": throughput,
                    "cpu_ms": cpu_ms,
                }
            finally:
                server.stop()
                if side:
                    side.drop(store)
    ours, base = results["ours"], results["baseline"]
    label = f"{kind}, {stations:,} stations, heartbeats every {heartbeat_s:g} s"
    baseline = "handler sends CALL itself"
    return [
        Row(
            f"{label}: p50 to CALL at {RATE_PER_S}/s",
            "ms",
            ours["call_p50"],
            baseline,
            base["call_p50"],
            False,
        ),
        Row(
            f"{label}: p99 to CALL at {RATE_PER_S}/s",
            "ms",
            ours["call_p99"],
            baseline,
            base["call_p99"],
            False,
        ),
        Row(
            f"{label}: p50 to terminal outcome",
            "ms",
            ours["end_p50"],
            baseline,
            base["end_p50"],
            False,
        ),
        Row(
            f"{label}: p99 to terminal outcome",
            "ms",
            ours["end_p99"],
            baseline,
            base["end_p99"],
            False,
        ),
        Row(
            f"{label}: throughput, {IN_FLIGHT} in flight",
            "commands/s",
            ours["throughput"],
            baseline,
            base["throughput"],
        ),
        Row(
            f"{label}: server CPU per command (both phases)",
            "ms",
            ours["cpu_ms"],
            baseline,
            base["cpu_ms"],
            False,
        ),
    ]
