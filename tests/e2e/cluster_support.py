"""Several real ``chargeledger serve`` processes on one PostgreSQL database, stations
that record every CALL with the connection it came on, and the log read back."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
from websockets.typing import Subprotocol

from chargeledger.adapters.postgres_database import PostgresDatabase
from chargeledger.domain import events as e
from tests.e2e.conftest import ServedNode, Station, start_node
from tests.stores import postgres_event_store

FAST = ("--reconcile-grace", "0.5", "--response-timeout", "5", "--close-timeout", "2")


def start_cluster(tmp_path: Path, dsn: str, count: int, *extra: str) -> list[ServedNode]:
    nodes: list[ServedNode] = []
    try:
        for n in range(count):
            folder = tmp_path / f"node{n + 1}"
            folder.mkdir(exist_ok=True)
            nodes.append(start_node(folder, "--node-id", f"node-{n + 1}", *extra, store=dsn))
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


@dataclass
class CallRecord:
    action: str
    id_tag: str
    connection: int
    """Which connection of the station the CALL came on (1, 2, …)."""
    newest: int
    """The newest connection the station had opened when the CALL came."""


@dataclass
class Fleet:
    """What every station of a test received, across all its connections."""

    calls: list[CallRecord] = field(default_factory=list)
    connections: Counter[str] = field(default_factory=Counter)

    def received(self) -> Counter[str]:
        return Counter(c.id_tag for c in self.calls)


class RecordingStation(Station):
    def __init__(self, station_id: str, connection: Any, fleet: Fleet, number: int) -> None:
        super().__init__(station_id, connection)
        self.fleet = fleet
        self.number = number

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, **payload: Any) -> Any:
        self.fleet.calls.append(
            CallRecord(
                "RemoteStartTransaction",
                payload["id_tag"],
                self.number,
                self.fleet.connections[self.id],
            )
        )
        return call_result.RemoteStartTransaction(status="Accepted")


@contextlib.asynccontextmanager
async def station_on(url: str, station_id: str, fleet: Fleet) -> Any:
    """One connection of a station to ``url`` (a node or the front), booted."""
    async with websockets.connect(
        f"{url}/{station_id}", subprotocols=[Subprotocol("ocpp1.6")], open_timeout=10
    ) as ws:
        fleet.connections[station_id] += 1
        station = RecordingStation(station_id, ws, fleet, fleet.connections[station_id])
        reader = asyncio.create_task(station.start())
        try:
            await station.call(
                call.BootNotification(charge_point_vendor="test", charge_point_model="cluster")
            )
            yield station, ws
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


async def read_log(dsn: str) -> tuple[Counter[str], Counter[str], list[Any]]:
    """Dispatches and terminal events per command id, and every event, from the log."""
    database = await PostgresDatabase.open(dsn)
    store = postgres_event_store(database)
    try:
        dispatches: Counter[str] = Counter()
        terminals: Counter[str] = Counter()
        everything = []
        position = 0
        while batch := await store.read_all(position, 10_000):
            for recorded in batch:
                event = recorded.event
                everything.append(event)
                if isinstance(event, e.CommandDispatched):
                    dispatches[event.command_id] += 1
                elif isinstance(event, e.TERMINAL_EVENTS):
                    terminals[getattr(event, "command_id")] += 1  # noqa: B009
            position = batch[-1].position
        return dispatches, terminals, everything
    finally:
        await store.close()
