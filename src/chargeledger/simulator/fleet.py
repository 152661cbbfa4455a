"""Many simulated stations at once, each reconnecting when its connection drops or it
reboots, with a progress line."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass

import websockets
from websockets.typing import Subprotocol

from chargeledger.simulator.station import Behaviour, SimulatedStation


@dataclass
class StationRun:
    station_id: str
    connections: int = 0
    transactions: int = 0
    heartbeats: int = 0
    last_error: str = ""


async def run_station(
    url: str,
    run: StationRun,
    stop: asyncio.Event,
    heartbeat: float | None,
    behaviour: Behaviour,
) -> None:
    address = f"{url.rstrip('/')}/{run.station_id}"
    backoff = 0.5
    while not stop.is_set():
        station: SimulatedStation | None = None
        try:
            async with websockets.connect(
                address, subprotocols=[Subprotocol("ocpp1.6")], open_timeout=30
            ) as ws:
                run.connections += 1
                station = SimulatedStation(run.station_id, ws, behaviour)
                reader = asyncio.create_task(station.start())
                try:
                    await station.boot()
                    backoff = 0.5
                    beating = asyncio.create_task(station.beat(stop, heartbeat))
                    rebooting = asyncio.create_task(station.reboot.wait())
                    await asyncio.wait(
                        [reader, beating, rebooting], return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in (beating, rebooting):
                        task.cancel()
                finally:
                    reader.cancel()
                    station.stop_background()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await reader
        except (OSError, websockets.WebSocketException, RuntimeError, TimeoutError) as error:
            run.last_error = f"{type(error).__name__}: {error}"
        finally:
            if station is not None:
                run.transactions += station.counters.transactions
                run.heartbeats += station.counters.heartbeats
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 30.0)


async def run_fleet(
    url: str,
    count: int,
    duration: float | None,
    prefix: str,
    heartbeat: float | None,
    behaviour: Behaviour | None = None,
) -> int:
    stop = asyncio.Event()
    runs = [StationRun(f"{prefix}{n:05d}") for n in range(1, count + 1)]
    tasks = [
        asyncio.create_task(run_station(url, r, stop, heartbeat, behaviour or Behaviour()))
        for r in runs
    ]
    started = time.monotonic()
    try:
        while duration is None or time.monotonic() - started < duration:
            connected = sum(1 for r in runs if r.connections and not r.last_error)
            sys.stderr.write(
                f"\r{connected}/{count} stations connected, "
                f"{sum(r.connections for r in runs)} connections, "
                f"{time.monotonic() - started:5.0f} s "
            )
            sys.stderr.flush()
            await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        sys.stderr.write("\n")
    failed = [r for r in runs if r.connections == 0]
    for run in failed[:5]:
        print(f"{run.station_id} never connected: {run.last_error}", file=sys.stderr)
    return 1 if failed else 0
