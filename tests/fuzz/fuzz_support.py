"""The fuzz suites' harness: a ``Fuzzer`` connection that sends a frame and checks
what answers it, a ``WellBehavedStation`` timing its heartbeats beside it, and the
check that the node restarts on the same store afterwards (``test_ocpp_fuzz`` for 1.6,
``test_ocpp201_fuzz`` for 2.0.1)."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from hypothesis import HealthCheck, settings
from ocpp.v16 import call
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.e2e.conftest import TOKEN, ServedNode, Station, start_node
from tests.fuzz import ocpp_frames as frames
from tests.fuzz.ocpp_frames import Case

OCPP16 = [Subprotocol("ocpp1.6")]
ANSWER_TIMEOUT_S = 10.0
FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=os.environ.get("CHARGELEDGER_FUZZ_RANDOM") != "1",
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


class Fuzzer:
    """One station connection that sends a frame and reads what answers it."""

    def __init__(
        self, node: ServedNode, station_id: str, subprotocols: list[Subprotocol] = OCPP16
    ) -> None:
        self.station_id = station_id
        self._connection = connect(
            f"{node.ocpp_url}/{station_id}", subprotocols=subprotocols, max_size=2**22
        )
        self.ws: ClientConnection = self._connection.__enter__()
        self.sent = 0

    def exchange(self, case: Case) -> None:
        self.sent += 1
        unique_id = f"fuzz-{self.sent}"
        where = f"{case.what}: {ascii(case.text(unique_id))[:400]}"
        try:
            self.ws.send(case.text(unique_id))
            if not case.expect:
                probe = f"probe-{self.sent}"
                self.ws.send(frames.heartbeat_text(probe))
                answer = self._answer()
                assert answer[:2] == [3, probe], f"{where} was answered: {answer}"
                return
            answer = self._answer()
        except websockets.ConnectionClosed as closed:
            raise AssertionError(f"the node closed the connection after {where}") from closed
        assert answer[1] == case.answered_id(unique_id), f"{where} answered {answer}"
        if answer[0] == 3:
            assert frames.RESULT in case.expect, f"{where} got a CALLRESULT {answer}"
        else:
            assert answer[0] == 4, f"{where} answered {answer}"
            assert answer[2] in case.expect, f"{where} wanted {set(case.expect)}, got {answer}"

    def _answer(self) -> list[Any]:
        while True:
            message = json.loads(self.ws.recv(timeout=ANSWER_TIMEOUT_S))
            if message[0] != 2:
                return list(message)
            # A CALL of the node's (after a boot): refuse it so that nothing waits on us.
            self.ws.send(json.dumps([4, message[1], "NotSupported", "fuzzer", {}]))

    def close(self) -> None:
        self._connection.__exit__(None, None, None)


@dataclass
class WellBehavedStation:
    """An ``ocpp`` ChargePoint on its own thread and loop, sending a heartbeat every
    ``interval_s`` and timing each round trip while the fuzzer runs."""

    node: ServedNode
    station_id: str
    interval_s: float = 0.05
    round_trips: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        assert self._ready.wait(20), f"the well-behaved station did not boot: {self.failures}"

    async def _run(self) -> None:
        try:
            async with websockets.connect(
                f"{self.node.ocpp_url}/{self.station_id}", subprotocols=OCPP16
            ) as ws:
                station = Station(self.station_id, ws)
                reader = asyncio.create_task(station.start())
                await station.boot()
                self._ready.set()
                while not self._stop.is_set():
                    started = time.perf_counter()
                    await asyncio.wait_for(station.call(call.Heartbeat()), 30)
                    self.round_trips.append(time.perf_counter() - started)
                    await asyncio.sleep(self.interval_s)
                reader.cancel()
        except Exception as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            self._ready.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(40)


@dataclass
class Fuzzed:
    node: ServedNode
    fuzzer: Fuzzer
    watcher: WellBehavedStation
    folder: Path


def check_round_trips_and_restart(fuzzed: Fuzzed) -> None:
    """The well-behaved station kept its round trip beside the fuzzer; the node stops
    cleanly and starts again on the same store with nothing quarantined."""
    watcher, node = fuzzed.watcher, fuzzed.node
    time.sleep(0.5)  # a few heartbeats after the last fuzz frame too
    watcher.stop()
    assert not watcher.failures, watcher.failures
    trips = sorted(watcher.round_trips)
    assert len(trips) >= 5, trips
    p99 = trips[min(len(trips) - 1, int(len(trips) * 0.99))]
    # Bounds for a loaded 2-core machine; an idle one answers in milliseconds.
    assert statistics.median(trips) < 0.5 and p99 < 2.0, (statistics.median(trips), p99)

    fuzzed.fuzzer.close()
    node.stop()
    assert node.process.returncode == 0, node.log()[-3000:]
    assert "Traceback" not in node.log(), node.log()[-5000:]

    again = start_node(fuzzed.folder, store=node.store)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=again.api_url, headers=headers, timeout=10) as client:
            deadline = time.monotonic() + 30
            while (ready := client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, ready.text
                time.sleep(0.2)
            health = client.get("/healthz").json()
            assert health["quarantined"]["count"] == 0, health  # nothing stored is unloadable
            assert client.get(f"/api/stations/{fuzzed.fuzzer.station_id}").status_code == 200
            good = client.get(f"/api/stations/{watcher.station_id}")
            assert good.status_code == 200, good.text
            assert good.json()["registration"] == "Accepted", good.text
            assert good.json()["last_heartbeat"] is not None, good.text
            assert client.get("/api/stations").status_code == 200
            assert client.get("/api/transactions").status_code == 200
    finally:
        again.stop()
    assert "Traceback" not in again.log(), again.log()[-5000:]
