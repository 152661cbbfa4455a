"""Many simulated stations at once, with a progress line."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import websockets
from websockets.typing import Subprotocol

from chargeledger.simulator.station import SimulatedStation


async def run_station(
    url: str, station_id: str, stop: asyncio.Event, heartbeat: float | None
) -> SimulatedStation:
    address = f"{url.rstrip('/')}/{station_id}"
    async with websockets.connect(address, subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        station = SimulatedStation(station_id, ws)
        reader = asyncio.create_task(station.start())
        try:
            interval = await station.boot()
            await station.beat(heartbeat or interval, stop)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    return station


async def run_fleet(
    url: str, count: int, duration: float | None, prefix: str, heartbeat: float | None
) -> int:
    stop = asyncio.Event()
    stations = [
        asyncio.create_task(run_station(url, f"{prefix}{n:05d}", stop, heartbeat))
        for n in range(1, count + 1)
    ]
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            failed = sum(1 for t in stations if t.done() and t.exception() is not None)
            running = sum(1 for t in stations if not t.done())
            sys.stderr.write(
                f"\r{running} stations running, {failed} failed, {elapsed:5.0f} s elapsed "
            )
            sys.stderr.flush()
            if duration is not None and elapsed >= duration:
                break
            if running == 0:
                break
            await asyncio.sleep(1.0)
    finally:
        stop.set()
        results = await asyncio.gather(*stations, return_exceptions=True)
        sys.stderr.write("\n")
    errors = [r for r in results if isinstance(r, BaseException)]
    for error in errors[:5]:
        print(f"station failed: {error!r}", file=sys.stderr)
    return 1 if errors else 0
