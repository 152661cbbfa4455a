"""bench cluster: 1, 2 and 3 nodes on one PostgreSQL database.

Each size gets a fresh database and its own ``chargeledger serve`` processes; the
stations (a lean OCPP-J client) and the operator's client run in two load
processes of their own, each holding half of the stations, spread evenly over the
nodes (connected to the nodes directly: the front is not what is measured).

- heartbeat round trips per second: a second fleet of as many stations, on the lean
  raw-frame client of ``bench gateway`` (one prebuilt masked frame per heartbeat), each
  sending a Heartbeat, waiting for its answer and sending the next one, for a fixed
  time; the ``websockets`` client the commands use cost the load about as much CPU per
  heartbeat as a node, so on two cores it measured the load as much as the nodes;
- commands per second: RemoteStartTransaction POSTed to a node chosen at random
  (so with N nodes, (N-1)/N of them are routed to the node holding the station),
  a fixed number with a fixed number in flight, until every CALL reached its station;
- routed against local (two nodes and more): at a steady rate, the same kind of
  command POSTed alternately to the node holding the station and to another one;
  the time from the POST to the CALL at the station, p50 and p99.

The baseline is one node, measured in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.typing import Subprotocol

from bench.commands import LeanHttp
from bench.common import Row

TOKEN = "bench"
LOAD_PROCESSES = 2
CONNECTORS = 10
IN_FLIGHT = 32


@dataclass(frozen=True)
class Plan:
    stations: int
    heartbeat_s: float
    commands: int
    paced_rate: int
    paced_s: float
    rounds: int
    """Each size is measured this many times, the sizes in turn (1, 2, 3, then 3, 2,
    1, ...), and the median kept: the machine is shared, its load drifts."""


# The paced rate stays well below what one node sustains, so that the latency
# measured is a command's, not a queue's.
QUICK = Plan(stations=200, heartbeat_s=4.0, commands=400, paced_rate=20, paced_s=5.0, rounds=1)
FULL = Plan(stations=1000, heartbeat_s=8.0, commands=1000, paced_rate=20, paced_s=10.0, rounds=3)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_nodes(
    store: str, count: int, logs: Path, files: int | None = None, extra: tuple[str, ...] = ()
) -> tuple[list[subprocess.Popen[bytes]], list[dict[str, str]]]:
    """``count`` nodes; with ``files``, each may open that many files at most; ``extra``
    options for ``serve``."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[dict[str, str]] = []
    for n in range(1, count + 1):
        api_port, ocpp_port = _free_port(), _free_port()
        args = [
            sys.executable,
            "-m",
            "chargeledger.entrypoints.cli",
            "serve",
            "--store",
            store,
            "--node-id",
            f"node-{n}",
            "--ocpp-port",
            str(ocpp_port),
            "--api-port",
            str(api_port),
            "--api-token",
            TOKEN,
            "--unknown-stations",
            "accept",
            "--heartbeat-interval",
            "3600",
            # The load comes from a few loopback addresses, thousands of stations each:
            # the per-address caps meant for the field would measure themselves.
            "--max-ocpp-connections-per-address",
            "0",
            "--new-stations-per-minute",
            "1000000",
            *extra,
        ]
        with open(logs / f"node-{n}.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    args,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=None if files is None else lambda: _limit_files(files),
                )
            )
        urls.append(
            {
                "api": f"http://127.0.0.1:{api_port}",
                "ocpp": f"ws://127.0.0.1:{ocpp_port}/ocpp",
                "pid": str(processes[-1].pid),
            }
        )
    deadline = time.monotonic() + 60
    for url in urls:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url['api']}/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                _stop(processes)
                raise RuntimeError(f"node at {url['api']} did not become ready")
            time.sleep(0.1)
    return processes, urls


def _limit_files(files: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the load process ------------------------------------------------------------


class LeanStation:
    """One station's connection: answers CALLs, notes when each RemoteStart came."""

    def __init__(self, station_id: str, node: int, calls_at: dict[str, float]) -> None:
        self.station_id = station_id
        self.node = node
        self._calls_at = calls_at
        self._answers: dict[str, asyncio.Future[Any]] = {}
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, url: str) -> None:
        self._ws = await websockets.connect(
            f"{url}/{self.station_id}",
            subprotocols=[Subprotocol("ocpp1.6")],
            compression=None,
            ping_interval=None,
            open_timeout=60,
        )
        self._reader = asyncio.create_task(self._read())
        await self.call("BootNotification", {"chargePointVendor": "bench", "chargePointModel": "c"})

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        message_id = f"{random.getrandbits(48):x}"
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._answers[message_id] = answer
        await self._ws.send(json.dumps([2, message_id, action, payload]))
        return await answer

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                message = json.loads(raw)
                if message[0] == 2:
                    if message[2] == "RemoteStartTransaction":
                        self._calls_at.setdefault(message[3]["idTag"], time.perf_counter())
                    await self._ws.send(json.dumps([3, message[1], {"status": "Accepted"}]))
                elif (answer := self._answers.pop(message[1], None)) is not None:
                    answer.set_result(message[2])

    async def close(self) -> None:
        await self._ws.close()
        if self._reader is not None:
            await self._reader


async def _until_called(calls_at: dict[str, float], tags: list[str], timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while any(tag not in calls_at for tag in tags):
        if time.perf_counter() > deadline:
            missing = sum(1 for tag in tags if tag not in calls_at)
            raise RuntimeError(f"{missing} CALLs never reached their station")
        await asyncio.sleep(0.02)


async def _heartbeat_fleet(nodes: list[dict[str, str]], worker: int, count: int) -> list[Any]:
    """``count`` raw-frame stations spread over the nodes, as the commands' stations are."""
    from urllib.parse import urlsplit

    from bench.gateway import _LoadStation

    loop = asyncio.get_running_loop()
    opening = asyncio.Semaphore(50)

    async def one(n: int) -> _LoadStation:
        port = urlsplit(nodes[n % len(nodes)]["ocpp"]).port
        async with opening:
            opened: asyncio.Future[None] = loop.create_future()
            _, station = await loop.create_connection(
                lambda: _LoadStation(f"HB{worker}-{n:05d}", opened), "127.0.0.1", port
            )
            await asyncio.wait_for(opened, 60)
            return station

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def _beat_fleet(fleet: list[Any], seconds: float, pids: list[int]) -> tuple[int, float]:
    """Heartbeat round trips answered in ``seconds``, one in flight per station, and
    the CPU seconds the nodes (``pids``) used meanwhile."""
    from bench.gateway import _cpu_seconds

    for station in fleet:
        station.keep_going = True
        station.heartbeat()
    await asyncio.sleep(0.3)  # every station has one in flight
    before = sum(s.answers for s in fleet)
    cpu_before = sum(_cpu_seconds(pid) for pid in pids)
    await asyncio.sleep(seconds)
    done = sum(s.answers for s in fleet) - before
    cpu = sum(_cpu_seconds(pid) for pid in pids) - cpu_before
    for station in fleet:
        station.keep_going = False
    await asyncio.sleep(0.2)
    if any(s.bad for s in fleet):
        raise RuntimeError("a node answered a heartbeat with something else than a CALLRESULT")
    return done, cpu


async def _post(client: LeanHttp, station: str, connector: int, tag: str) -> None:
    body = json.dumps({"connector_id": connector, "id_tag": tag}).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": tag}
    status, answer = await client.post(
        f"/api/stations/{station}/commands/remote-start", body, headers
    )
    if status != 202:
        raise RuntimeError(f"remote-start for {station}: {status} {answer[:300]!r}")


async def _load(job: dict[str, Any], barrier: Any) -> dict[str, Any]:
    nodes: list[dict[str, str]] = job["nodes"]
    worker, plan = job["worker"], Plan(**job["plan"])
    calls_at: dict[str, float] = {}
    stations = [
        LeanStation(f"W{worker}-{n:05d}", n % len(nodes), calls_at)
        for n in range(plan.stations // LOAD_PROCESSES)
    ]
    opening = asyncio.Semaphore(50)

    async def connect(station: LeanStation) -> None:
        async with opening:
            await station.connect(nodes[station.node]["ocpp"])

    await asyncio.gather(*(connect(s) for s in stations))
    fleet = await _heartbeat_fleet(nodes, worker, len(stations))
    clients = [LeanHttp(node["api"], IN_FLIGHT) for node in nodes]
    pairs = iter([(s, c) for c in range(1, CONNECTORS + 1) for s in stations])
    result: dict[str, Any] = {}
    try:
        await asyncio.to_thread(barrier.wait)
        pids = [int(node["pid"]) for node in nodes]
        result["heartbeats"], result["nodes_cpu_s"] = await _beat_fleet(
            fleet, plan.heartbeat_s, pids
        )
        result["heartbeat_s"] = plan.heartbeat_s

        await asyncio.to_thread(barrier.wait)
        rng = random.Random(worker)
        tags: list[str] = []
        in_flight = asyncio.Semaphore(IN_FLIGHT)

        async def one(n: int) -> None:
            station, connector = next(pairs)
            tag = f"t{worker}-{n}"
            tags.append(tag)
            async with in_flight:
                await _post(clients[rng.randrange(len(nodes))], station.station_id, connector, tag)

        began = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(plan.commands // LOAD_PROCESSES)))
        await _until_called(calls_at, tags, 120)
        result["commands"] = len(tags)
        result["commands_s"] = time.perf_counter() - began

        await asyncio.to_thread(barrier.wait)
        if len(nodes) > 1:
            result["local_ms"], result["routed_ms"] = await _paced(
                plan, worker, clients, pairs, calls_at
            )
    finally:
        for client in clients:
            await client.close()
        for beating in fleet:
            beating.transport.abort()
        await asyncio.gather(*(s.close() for s in stations), return_exceptions=True)
    return result


async def _paced(
    plan: Plan, worker: int, clients: list[LeanHttp], pairs: Any, calls_at: dict[str, float]
) -> tuple[list[float], list[float]]:
    """POST to the station's own node and to another one, alternately, at a steady rate;
    milliseconds from the POST to the CALL, for each kind."""
    sent: dict[str, tuple[float, bool]] = {}
    pending = []
    rate = plan.paced_rate / LOAD_PROCESSES
    start = time.perf_counter()
    for n in range(int(rate * plan.paced_s)):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        station, connector = next(pairs)
        routed = n % 2 == 1
        node = (station.node + 1) % len(clients) if routed else station.node
        tag = f"p{worker}-{n}"
        sent[tag] = (time.perf_counter(), routed)
        pending.append(
            asyncio.create_task(_post(clients[node], station.station_id, connector, tag))
        )
    await asyncio.gather(*pending)
    await _until_called(calls_at, list(sent), 60)
    local = [(calls_at[t] - at) * 1000 for t, (at, routed) in sent.items() if not routed]
    routed = [(calls_at[t] - at) * 1000 for t, (at, routed) in sent.items() if routed]
    return local, routed


def _load_process(job: dict[str, Any], barrier: Any, results: Any) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    try:
        results.put(asyncio.run(_load(job, barrier)))
    except BaseException as exc:
        barrier.abort()
        results.put({"error": repr(exc)})


# -- the driver ------------------------------------------------------------------


def _measure(postgres: str, count: int, plan: Plan) -> dict[str, Any]:
    from bench.store import PostgresSide

    side = PostgresSide(postgres)
    store = side.fresh_url()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        logs = Path(tempfile.mkdtemp(prefix=f"bench-cluster-{count}-"))
        processes, nodes = _start_nodes(store, count, logs)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(LOAD_PROCESSES)
        results = context.Queue()
        loads = [
            context.Process(
                target=_load_process,
                args=({"worker": w, "nodes": nodes, "plan": plan.__dict__}, barrier, results),
            )
            for w in range(LOAD_PROCESSES)
        ]
        for load in loads:
            load.start()
        parts = [results.get(timeout=600) for _ in loads]
        for load in loads:
            load.join(30)
        for part in parts:
            if "error" in part:
                raise RuntimeError(
                    f"{count} nodes: a load process failed: {part['error']} (logs in {logs})"
                )
        return {
            "heartbeats_per_s": sum(p["heartbeats"] / p["heartbeat_s"] for p in parts),
            # Both load processes beat in the same window (a barrier starts them): each
            # saw the nodes' CPU for all heartbeats; their mean is the window's.
            "cpu_us_per_heartbeat": 1e6
            * statistics.mean(p["nodes_cpu_s"] for p in parts)
            / max(1, sum(p["heartbeats"] for p in parts)),
            "commands_per_s": sum(p["commands"] for p in parts)
            / max(p["commands_s"] for p in parts),
            "local_ms": [ms for p in parts for ms in p.get("local_ms", [])],
            "routed_ms": [ms for p in parts for ms in p.get("routed_ms", [])],
        }
    finally:
        _stop(processes)
        side.drop(store)


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run(quick: bool, postgres: str) -> list[Row]:
    if stations := int(os.environ.get("CHARGELEDGER_BENCH_CLUSTER_STATIONS", "0")):
        from bench.cluster_stations import run_stations

        return run_stations(postgres, stations)
    plan = QUICK if quick else FULL
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: [], 3: []}
    for round_number in range(plan.rounds):
        for count in (1, 2, 3) if round_number % 2 == 0 else (3, 2, 1):
            runs[count].append(_measure(postgres, count, plan))
    results = {
        count: {
            "heartbeats_per_s": statistics.median(r["heartbeats_per_s"] for r in measured),
            "cpu_us_per_heartbeat": statistics.median(r["cpu_us_per_heartbeat"] for r in measured),
            "commands_per_s": statistics.median(r["commands_per_s"] for r in measured),
            "local_ms": [ms for r in measured for ms in r["local_ms"]],
            "routed_ms": [ms for r in measured for ms in r["routed_ms"]],
        }
        for count, measured in runs.items()
    }
    one = results[1]
    label = f"{plan.stations:,} stations, median of {plan.rounds}"
    rows: list[Row] = []
    for count in (1, 2, 3):
        rows.append(
            Row(
                f"{count} node{'s' if count > 1 else ''}, {label}: heartbeat round trips",
                "round trips/s",
                results[count]["heartbeats_per_s"],
                "1 node",
                one["heartbeats_per_s"],
            )
        )
    for count in (1, 2, 3):
        rows.append(
            Row(
                f"{count} node{'s' if count > 1 else ''}, {label}: the nodes' CPU per heartbeat",
                "µs",
                results[count]["cpu_us_per_heartbeat"],
                "1 node",
                one["cpu_us_per_heartbeat"],
                False,
            )
        )
    for count in (1, 2, 3):
        rows.append(
            Row(
                f"{count} node{'s' if count > 1 else ''}, {label}: remote starts, "
                f"{IN_FLIGHT * LOAD_PROCESSES} in flight, to a random node",
                "commands/s",
                results[count]["commands_per_s"],
                "1 node",
                one["commands_per_s"],
            )
        )
    for count in (2, 3):
        local, routed = results[count]["local_ms"], results[count]["routed_ms"]
        for q in (50, 99):
            rows.append(
                Row(
                    f"{count} nodes: p{q} POST to CALL, routed to another node "
                    f"({plan.paced_rate}/s, {len(routed)} of each)",
                    "ms",
                    _percentile(routed, q),
                    "delivered by the node posted to",
                    _percentile(local, q),
                    False,
                )
            )
    return rows
