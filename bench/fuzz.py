"""``chargeledger bench fuzz``: a million hostile OCPP-J frames at a served node.

The frames are the fuzz suite's (``tests/fuzz/ocpp_frames.py``: built from the OCPP
1.6 JSON schemas of the ``ocpp`` package, valid payloads of every station action and
mutated ones, malformed frames, answers to nothing): a pool is drawn once with
hypothesis, then frames are picked from it by a seeded ``random.Random`` and each
gets its own message id, so the generator costs little beside the node.

``chargeledger serve`` (SQLite, ``accept``) runs in its own process. Several
connections send the frames, each with a few CALLs in flight (fewer than the
node's inbox), and check every answer against what OCPP-J names for the frame.
A well-behaved ``ocpp`` ChargePoint, in a process of its own so that the load
generator's loop does not time it, sends a heartbeat every 20 ms: first alone (the
baseline), then during the fuzz. Figures: frames per second (beside valid
heartbeats through the same connections), CALLERRORs by code, answers not as
OCPP-J names them, crashes (node exits, InternalError answers, tracebacks in its
log: must be 0), the station's p50/p99 round trip, the node's RSS before and after.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from tests.fuzz.ocpp_frames import ID, RESULT, Case, cases, heartbeat_text
from websockets.typing import Subprotocol

from bench.common import Row

FULL_FRAMES = 1_000_000
QUICK_FRAMES = 50_000
CONNECTIONS = 6
IN_FLIGHT = 8
"""CALLs in flight per connection: below the node's inbox of 16, as a pipelining
station would be; more would be refused (GenericError) by design, not by defect."""
SEED = 20261201
OCPP16 = [Subprotocol("ocpp1.6")]

WELL_BEHAVED = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    import websockets
    from ocpp.v16 import ChargePoint, call

    async def main(url, seconds, stop_file):
        trips = []
        async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
            station = ChargePoint("BENCH-GOOD", ws)
            reader = asyncio.create_task(station.start())
            boot = call.BootNotification(charge_point_vendor="b", charge_point_model="b")
            await station.call(boot)
            print("ready", flush=True)
            end = time.monotonic() + seconds
            while time.monotonic() < end and not os.path.exists(stop_file):
                started = time.perf_counter()
                await asyncio.wait_for(station.call(call.Heartbeat()), 30)
                trips.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)
            reader.cancel()
        print(json.dumps(trips), flush=True)

    asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
    """
)


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0
    codes: collections.Counter[str] = field(default_factory=collections.Counter)
    wrong: int = 0
    unanswered: int = 0
    unexpected: int = 0
    closed: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text[:300])


def _pool(size: int) -> list[Case]:
    """``size`` cases drawn by hypothesis from the fuzz suite's strategy."""
    from hypothesis import HealthCheck, Phase, given, settings

    pool: list[Case] = []

    @settings(
        max_examples=size,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases())
    def collect(case: Case) -> None:
        pool.append(case)

    collect()
    return pool


async def _fuzz_connection(
    url: str, pool: list[Case], rng: random.Random, frames: int, prefix: str, tally: Tally
) -> None:
    outstanding: dict[str, list[frozenset[str]]] = {}
    slots = asyncio.Semaphore(IN_FLIGHT)
    async with websockets.connect(url, subprotocols=OCPP16, max_size=2**22) as ws:

        async def read() -> None:
            async for message in ws:
                answer = json.loads(message)
                if answer[0] == 2:  # a CALL of the node's: refuse it, nothing waits on us
                    await ws.send(json.dumps([4, answer[1], "NotSupported", "bench", {}]))
                    continue
                expects = outstanding.get(answer[1])
                if not expects:
                    tally.unexpected += 1
                    tally.note(f"unexpected answer {message!r}")
                    continue
                expect = expects.pop()
                if not expects:
                    del outstanding[answer[1]]
                code = RESULT if answer[0] == 3 else str(answer[2])
                tally.answered += 1
                tally.codes[code] += 1
                if code not in expect:
                    tally.wrong += 1
                    tally.note(f"wanted {sorted(expect)}, got {message!r}")
                slots.release()

        reader = asyncio.create_task(read())
        try:
            for number in range(frames):
                case = pool[rng.randrange(len(pool))]
                unique_id = f"{prefix}{number}"
                if case.expect:
                    try:
                        await asyncio.wait_for(slots.acquire(), 30)
                    except TimeoutError:
                        tally.note(f"no answer for 30 s after {case.what}")
                        break
                    outstanding.setdefault(case.answered_id(unique_id), []).append(case.expect)
                await ws.send(case.text(unique_id))
                tally.sent += 1
            with contextlib.suppress(TimeoutError):  # every slot back: every answer in
                for _ in range(IN_FLIGHT):
                    await asyncio.wait_for(slots.acquire(), 30)
        except websockets.ConnectionClosed:
            tally.closed += 1
        finally:
            tally.unanswered += sum(len(v) for v in outstanding.values())
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await reader


async def _fuzz(url: str, pool: list[Case], frames: int, connections: int, tally: Tally) -> float:
    started = time.perf_counter()
    progress = asyncio.create_task(_progress(tally, frames, started))
    try:
        await asyncio.gather(
            *(
                _fuzz_connection(
                    f"{url}/FUZZ-{n}",
                    pool,
                    random.Random(SEED + n),
                    -(-frames // connections),  # rounded up: at least ``frames`` in all
                    f"f{n}-",
                    tally,
                )
                for n in range(connections)
            )
        )
    finally:
        progress.cancel()
    return time.perf_counter() - started


async def _progress(tally: Tally, frames: int, started: float) -> None:
    """A line on stderr every 30 s: the full run takes many minutes on a busy machine."""
    while True:
        await asyncio.sleep(30)
        elapsed = time.perf_counter() - started
        print(
            f"fuzz: {tally.sent:,}/{frames:,} frames in {elapsed:.0f} s, "
            f"{tally.wrong + tally.unexpected} answers not as named",
            file=sys.stderr,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _node(folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    ocpp_port, api_port = _free_port(), _free_port()
    log_path = folder / "node.log"
    args = [
        *(sys.executable, "-m", "chargeledger.entrypoints.cli", "--log-level", "ERROR"),
        *("serve", "--store", f"sqlite:///{folder / 'fuzz.db'}"),
        *("--ocpp-port", str(ocpp_port), "--api-port", str(api_port)),
        *("--api-token", "bench", "--unknown-stations", "accept"),
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", ocpp_port)):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the node did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield process, ocpp_port, log_path
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _station(url: str, seconds: float, stop_file: Path) -> subprocess.Popen[str]:
    """The well-behaved station: heartbeats for ``seconds`` or until ``stop_file`` is."""
    return subprocess.Popen(
        [sys.executable, "-c", WELL_BEHAVED, f"{url}/BENCH-GOOD", str(seconds), str(stop_file)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _round_trips(station: subprocess.Popen[str]) -> list[float]:
    out, _ = station.communicate(timeout=600)
    lines = out.strip().splitlines()
    return sorted(json.loads(lines[-1])) if lines and lines[-1].startswith("[") else []


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * share))] * 1000


async def _heartbeats(url: str, frames: int, connections: int) -> float:
    """Valid heartbeats through the same kind of connections: the rate to compare with."""
    heartbeat = Case(heartbeat_text(ID), frozenset({RESULT}), "heartbeat")
    tally = Tally()
    elapsed = await _fuzz(url, [heartbeat], frames, connections, tally)
    return tally.answered / elapsed


def run(quick: bool, postgres: str) -> list[Row]:
    frames = QUICK_FRAMES if quick else int(os.environ.get("CHARGELEDGER_FUZZ_FRAMES", FULL_FRAMES))
    pool = _pool(600 if quick else 3000)
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp, _node(Path(tmp)) as (process, port, log_path):
        url = f"ws://127.0.0.1:{port}/ocpp"
        stop_file = Path(tmp) / "stop"
        alone = _round_trips(_station(url, 5.0 if quick else 20.0, stop_file))
        heartbeat_rate = asyncio.run(_heartbeats(url, frames // 10, CONNECTIONS))
        rss_before = _rss_mb(process.pid)
        beside = _station(url, 3600, stop_file)
        elapsed = asyncio.run(_fuzz(url, pool, frames, CONNECTIONS, tally))
        stop_file.touch()
        during = _round_trips(beside)
        rss_after = _rss_mb(process.pid) if process.poll() is None else 0.0
        exited = process.poll() is not None
        log = log_path.read_text(errors="replace")
    crashes = int(exited) + tally.codes["InternalError"] + log.count("Traceback")
    wrong = tally.wrong + tally.unanswered + tally.unexpected + tally.closed
    for example in tally.examples:
        print(f"fuzz: {example}", file=sys.stderr)
    sent = float(tally.sent)
    label = f"{tally.sent:,} frames, {CONNECTIONS} connections"
    rows = [
        Row(f"fuzz: {label}", "frames/s", tally.sent / elapsed, "valid heartbeats", heartbeat_rate),
        Row(
            "station heartbeat p50 during fuzz",
            "ms",
            _percentile(during, 0.5),
            "without fuzz",
            _percentile(alone, 0.5),
            higher_is_better=False,
        ),
        Row(
            "station heartbeat p99 during fuzz",
            "ms",
            _percentile(during, 0.99),
            "without fuzz",
            _percentile(alone, 0.99),
            higher_is_better=False,
        ),
        Row("node RSS after fuzz", "MB", rss_after, "before fuzz", rss_before, False),
        Row("crashes (exit, InternalError, traceback)", "count", crashes, "frames sent", sent),
        Row("answers not as OCPP-J names them", "count", wrong, "frames sent", sent),
    ]
    rows += [
        Row(f"answered {code}", "count", count, "frames sent", sent)
        for code, count in sorted(tally.codes.items())
    ]
    return rows
