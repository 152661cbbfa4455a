"""Many simulated stations at once. Each reconnects with jittered backoff when its
connection drops, its network is down (``Charger.go_offline``) or it reboots; its
charger, sessions and outbox live on across connections. A progress line says how
many are connected now, charging, and waiting to send."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

import websockets
from websockets.typing import Subprotocol

from chargeledger.simulator.backoff import Backoff
from chargeledger.simulator.charger import PROTOCOL_201, Charger
from chargeledger.simulator.charger_parts import Behaviour
from chargeledger.simulator.station import SimulatedStation
from chargeledger.simulator.station201 import SimulatedStation201

REBOOT_S = 1.0


@dataclass
class StationRun:
    station_id: str
    connections: int = 0
    connected: bool = False
    last_error: str = ""
    charger: Charger | None = None
    booted_once: bool = field(default=False)
    protocol: str = "ocpp1.6"
    """The OCPP version it speaks: ``ocpp1.6`` or ``ocpp2.0.1`` (``station201``)."""

    @property
    def transactions(self) -> int:
        return self.charger.counters.transactions if self.charger else 0

    @property
    def heartbeats(self) -> int:
        return self.charger.counters.heartbeats if self.charger else 0


async def run_station(
    url: str,
    run: StationRun,
    stop: asyncio.Event,
    heartbeat: float | None,
    behaviour: Behaviour | None = None,
    charger: Charger | None = None,
) -> None:
    charger = charger or run.charger or Charger(run.station_id, behaviour, protocol=run.protocol)
    run.charger = charger
    behaviour = charger.behaviour
    address = f"{url.rstrip('/')}/{run.station_id}"
    backoff = Backoff(behaviour.reconnect_base_s, behaviour.reconnect_cap_s)
    try:
        while not stop.is_set():
            await charger.network_back(stop)
            if stop.is_set():
                break
            rebooted = await _connect_once(address, run, charger, stop, heartbeat, backoff)
            if stop.is_set():
                break
            delay = REBOOT_S if rebooted else backoff.next_delay()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    finally:
        charger.close()


async def _connect_once(
    address: str,
    run: StationRun,
    charger: Charger,
    stop: asyncio.Event,
    heartbeat: float | None,
    backoff: Backoff,
) -> bool:
    """One connection, from the handshake until it is lost; True if it ended by a reset."""
    station: SimulatedStation | SimulatedStation201 | None = None
    try:
        async with websockets.connect(
            address, subprotocols=[Subprotocol(run.protocol)], open_timeout=30
        ) as ws:
            run.connections += 1
            if run.protocol == PROTOCOL_201:
                station = SimulatedStation201(charger, ws)
            else:
                station = SimulatedStation(charger, ws)
            reader = asyncio.create_task(station.start())
            try:
                await station.boot()
                run.connected, run.booted_once, run.last_error = True, True, ""
                backoff.reset()
                network_down = asyncio.create_task(charger.network_down.wait())
                tasks = [
                    reader,
                    asyncio.create_task(station.beat(stop, heartbeat)),
                    asyncio.create_task(station.drain()),
                    asyncio.create_task(station.reboot.wait()),
                    asyncio.create_task(stop.wait()),
                    network_down,
                ]
                done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                if network_down in done:
                    ws.transport.abort()  # a lost network sends no close frame
                for task in pending:
                    task.cancel()
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        error = task.exception()
                        run.last_error = f"{type(error).__name__}: {error}"
                return station.reboot.is_set()
            finally:
                run.connected = False
                charger.detach(station)
                reader.cancel()
                station.stop_background()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
    except (OSError, websockets.WebSocketException, RuntimeError, TimeoutError) as error:
        run.last_error = f"{type(error).__name__}: {error}"
    return False


def progress(runs: list[StationRun], elapsed: float) -> str:
    """The progress line: what is true now, not what was once."""
    chargers = [r.charger for r in runs if r.charger is not None]
    connected = sum(1 for r in runs if r.connected)
    charging = sum(c.charging_count for c in chargers)
    waiting = sum(c.outbox.durable_count for c in chargers)
    sessions = sum(c.counters.transactions for c in chargers)
    return (
        f"{connected}/{len(runs)} connected, {charging} charging, {sessions} sessions, "
        f"{waiting} transaction messages waiting, "
        f"{sum(r.connections for r in runs)} connections, {elapsed:.0f} s"
    )


def connected_bar(runs: list[StationRun], width: int = 20) -> str:
    """How many of the stations are connected now, as a bar (start-up, reconnections)."""
    connected = sum(1 for r in runs if r.connected)
    filled = width if not runs else connected * width // len(runs)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _fit(text: str) -> str:
    """Within the terminal's width: a wrapped line cannot be redrawn in place."""
    return text[: max(20, shutil.get_terminal_size().columns - 1)]


async def show_progress(
    runs: list[StationRun], stop: asyncio.Event, out: TextIO = sys.stderr, every_s: float = 1.0
) -> None:
    """On a terminal, a bar of the stations connected and the line, rewritten in place;
    otherwise a plain line whenever something other than the time changed (and every
    30 s)."""
    started = time.monotonic()
    tty = out.isatty()
    last, last_at = "", 0.0
    while not stop.is_set():
        elapsed = time.monotonic() - started
        line = progress(runs, elapsed)
        if tty:
            out.write(f"\r{_fit(f'{connected_bar(runs)} {line}')}\x1b[K")
        else:
            state = line.rsplit(",", 1)[0]
            if state != last or elapsed - last_at >= 30:
                out.write(line + "\n")
                last, last_at = state, elapsed
        out.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
    final = progress(runs, time.monotonic() - started)
    out.write(f"\r{_fit(f'{connected_bar(runs)} {final}')}\x1b[K\n" if tty else f"{final}\n")
    out.flush()


async def run_fleet(
    url: str,
    count: int,
    duration: float | None,
    prefix: str,
    heartbeat: float | None,
    behaviour: Behaviour | None = None,
    protocol: str = "ocpp1.6",
) -> int:
    stop = asyncio.Event()
    behaviour = behaviour or Behaviour()
    runs = [StationRun(f"{prefix}{n:05d}", protocol=protocol) for n in range(1, count + 1)]
    for run in runs:
        run.charger = Charger(run.station_id, behaviour, protocol=protocol)
    return await run_runs(url, runs, stop, duration, heartbeat)


async def run_runs(
    url: str,
    runs: list[StationRun],
    stop: asyncio.Event,
    duration: float | None,
    heartbeat: float | None,
) -> int:
    tasks = [asyncio.create_task(run_station(url, r, stop, heartbeat)) for r in runs]
    shown = asyncio.create_task(show_progress(runs, stop))
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    finally:
        stop.set()
        await asyncio.gather(*tasks, shown, return_exceptions=True)
    failed = [r for r in runs if not r.booted_once]
    for run in failed[:5]:
        print(f"{run.station_id} never connected: {run.last_error}", file=sys.stderr)
    return 1 if failed else 0
