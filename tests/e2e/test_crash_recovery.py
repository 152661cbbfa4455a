"""Fault injection: the node is killed with SIGKILL at each point of the command path,
restarted on the same store, and every command still ends in exactly one terminal
event, sent at most once per recorded dispatch (I3, I4)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from chargeledger.adapters.sqlite_database import SQLiteDatabase, sqlite_path
from chargeledger.domain import events as e
from tests.e2e.conftest import ServedNode, Station, start_node
from tests.e2e.station201 import Station201
from tests.stores import sqlite_event_store

COMMANDS_PER_POINT = 50
TERMINAL = {"accepted", "rejected", "timed_out", "expired", "failed"}
POINTS = [
    "before-append:RequestRemoteStart",  # decided, not recorded
    "after-append:RequestRemoteStart",  # recorded, caller not answered, not yet dispatched
    "after-dispatched",  # dispatch recorded, CALL not sent
    "after-answer",  # station answered, answer not recorded
]


class ReconnectingStation:
    """A station that comes back whenever the node does, counting every CALL it got."""

    def __init__(self, station_id: str, protocol: str = "ocpp1.6") -> None:
        self.station_id = station_id
        self.protocol = protocol
        self.received: Counter[str] = Counter()
        self.url = ""
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, websockets.ConnectionClosed, asyncio.TimeoutError):
                async with websockets.connect(
                    f"{self.url}/{self.station_id}", subprotocols=[Subprotocol(self.protocol)]
                ) as ws:
                    kind = Station201 if self.protocol == "ocpp2.0.1" else Station
                    station = kind(self.station_id, ws)
                    station.received = _CountingList(self.received)  # type: ignore[assignment]
                    reader = asyncio.create_task(station.start())
                    try:
                        await station.boot()
                        await reader
                    finally:
                        reader.cancel()
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()


class _CountingList(list[tuple[str, dict[str, Any]]]):
    def __init__(self, counter: Counter[str]) -> None:
        super().__init__()
        self._counter = counter

    def append(self, item: tuple[str, dict[str, Any]]) -> None:
        super().append(item)
        asked = item[1]
        tag = asked["id_tag"] if "id_tag" in asked else asked["id_token"]["id_token"]
        self._counter[tag] += 1


async def _post_until_recorded(
    holder: dict[str, ServedNode], tmp_path: Path, restart: Any, station_id: str, n: int
) -> None:
    body = {"connector_id": n + 1, "id_tag": f"T{n}"}
    for _ in range(3):
        node = holder["node"]
        try:
            async with node.client() as api:
                response = await api.post(
                    f"/api/stations/{station_id}/commands/remote-start",
                    json=body,
                    headers={"Idempotency-Key": f"cmd-{n}"},
                )
            assert response.status_code == 202, response.text
            return
        except httpx.TransportError:
            await restart(node)  # the node died: bring it back, then send the same key again
    raise AssertionError(f"command {n} could not be recorded")


@pytest.mark.parametrize("point", POINTS)
async def test_sigkill_at_a_point_of_the_path_never_loses_or_doubles_a_command(
    tmp_path: Path, point: str
) -> None:
    """I3, I4: kill -9 anywhere on the path: no CALL before the request commits, one end, at most
    one send per recorded dispatch."""
    await sigkill_at(tmp_path, point)


async def sigkill_at(tmp_path: Path, point: str, protocol: str = "ocpp1.6") -> None:
    nth = random.Random(point).randint(5, 25)
    args = ("--reconcile-grace", "0.5", "--response-timeout", "5")
    holder = {"node": start_node(tmp_path, *args, "--crash-at", f"{point}:{nth}")}
    store_url = holder["node"].store
    station = ReconnectingStation("CRASH-1", protocol)
    station.url = holder["node"].ocpp_url
    station_task = asyncio.create_task(station.run())
    killed: list[int] = []
    restarting = asyncio.Lock()

    async def restart(node: ServedNode) -> None:
        async with restarting:
            if holder["node"] is not node:
                return  # already restarted
            if node.process.poll() is None:
                await asyncio.to_thread(node.process.wait, 15)
            if not killed:
                killed.append(node.process.returncode)
                fresh = start_node(tmp_path, *args, store=store_url)
                station.url = fresh.ocpp_url
                holder["node"] = fresh

    async def watch_for_crash() -> None:
        while not killed:
            if holder["node"].process.poll() is not None:
                await restart(holder["node"])
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch_for_crash())
    try:
        await asyncio.sleep(1.0)  # the station's first boot
        for n in range(COMMANDS_PER_POINT):
            await _post_until_recorded(holder, tmp_path, restart, "CRASH-1", n)
        await asyncio.wait_for(_until_all_terminal(holder), timeout=60)
    finally:
        watcher.cancel()
        station.stop()
        station_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await station_task
        holder["node"].stop()

    assert killed == [-signal.SIGKILL], f"the fail point {point}:{nth} was never reached"
    dispatches, terminals = await _read_log(store_url)
    for n in range(COMMANDS_PER_POINT):
        command_id = f"cmd-{n}"
        assert terminals[command_id] == 1, f"{command_id} ended {terminals[command_id]} times"
        assert station.received[f"T{n}"] <= dispatches[command_id] <= 1, command_id


async def _until_all_terminal(holder: dict[str, ServedNode]) -> None:
    while True:
        node = holder["node"]
        with contextlib.suppress(httpx.TransportError):
            async with node.client() as api:
                statuses = [
                    (await api.get(f"/api/commands/cmd-{n}")).json().get("status")
                    for n in range(COMMANDS_PER_POINT)
                ]
            if all(status in TERMINAL for status in statuses):
                return
        await asyncio.sleep(0.3)


async def _read_log(store_url: str) -> tuple[Counter[str], Counter[str]]:
    store = sqlite_event_store(SQLiteDatabase(sqlite_path(store_url)))
    try:
        dispatches: Counter[str] = Counter()
        terminals: Counter[str] = Counter()
        for recorded in await store.read_all(0, 100_000):
            event = recorded.event
            if isinstance(event, e.CommandDispatched):
                dispatches[event.command_id] += 1
            elif isinstance(event, e.TERMINAL_EVENTS):
                terminals[getattr(event, "command_id")] += 1  # noqa: B009
        return dispatches, terminals
    finally:
        await store.close()
