"""SIGKILL of one node of three behind HAProxy, with commands in flight: its stations
reconnect through the front to the others, which take them over; every command ends
exactly once, none is sent twice, no StartTransaction is lost, and transaction ids
stay unique cluster-wide (I4, I7, I8)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.typing import Subprotocol

from chargeledger.domain import events as e
from chargeledger.entrypoints.cluster import (
    NodeAddress,
    front_maxconn_here,
    haproxy_config,
    start_haproxy,
)
from tests.conftest import free_port
from tests.e2e.cluster_support import FAST, read_log, start_cluster
from tests.e2e.conftest import TOKEN, ServedNode

STATIONS = 30
COMMANDS = 90
TERMINAL = {"accepted", "rejected", "timed_out", "expired", "failed"}


class ChargerState:
    """What a station remembers across its connections: CALLs received, and the
    StartTransactions it owes (sent again on the next connection until answered)."""

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        self.received: Counter[str] = Counter()
        self.owed: list[dict[str, Any]] = []
        self.transactions: dict[str, int] = {}
        self.connected = asyncio.Event()
        self.boots = 0


class Charger(ChargePoint):  # type: ignore[misc]
    def __init__(self, state: ChargerState, connection: Any) -> None:
        super().__init__(state.station_id, connection)
        self.state = state
        self.wake = asyncio.Event()

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, **payload: Any) -> Any:
        tag = payload["id_tag"]
        self.state.received[tag] += 1
        self.state.owed.append(
            {
                "connector_id": payload["connector_id"],
                "id_tag": tag,
                "meter_start": 0,
                "timestamp": datetime.now(UTC).isoformat(),
            }
        )
        self.wake.set()
        return call_result.RemoteStartTransaction(status="Accepted")

    async def settle_owed(self) -> None:
        while True:
            while self.state.owed:
                start = self.state.owed[0]
                answer = await self.call(call.StartTransaction(**start))
                self.state.transactions[start["id_tag"]] = answer.transaction_id
                self.state.owed.pop(0)
            self.wake.clear()
            await self.wake.wait()


async def run_charger(state: ChargerState, front: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError, websockets.WebSocketException, asyncio.TimeoutError):
            async with websockets.connect(
                f"{front}/{state.station_id}",
                subprotocols=[Subprotocol("ocpp1.6")],
                open_timeout=5,
            ) as ws:
                charger = Charger(state, ws)
                reader = asyncio.create_task(charger.start())
                owed = None
                try:
                    await charger.call(
                        call.BootNotification(charge_point_vendor="t", charge_point_model="f")
                    )
                    state.connected.set()
                    state.boots += 1
                    owed = asyncio.create_task(charger.settle_owed())
                    await reader
                finally:
                    for task in (reader, owed):
                        if task is not None:
                            task.cancel()
        await asyncio.sleep(0.2)


def _address(node: ServedNode, number: int) -> NodeAddress:
    ocpp = urlsplit(node.ocpp_url).port
    api = urlsplit(node.api_url).port
    assert ocpp is not None and api is not None
    return NodeAddress(f"node-{number}", ocpp, api)


async def _post(api: httpx.AsyncClient, station_id: str, key: str, connector: int) -> None:
    headers = {"Idempotency-Key": key}
    for _ in range(40):
        with contextlib.suppress(httpx.TransportError):
            response = await api.post(
                f"/api/stations/{station_id}/commands/remote-start",
                json={"connector_id": connector, "id_tag": key},
                headers=headers,
            )
            if response.status_code == 202:
                return
        await asyncio.sleep(0.25)  # the node died under us: the front sends us elsewhere
    raise AssertionError(f"{key} could not be recorded")


async def _all_terminal(api_url: str, keys: list[str]) -> bool:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with contextlib.suppress(httpx.TransportError):
        async with httpx.AsyncClient(base_url=api_url, timeout=5, headers=headers) as api:
            for key in keys:
                answer = await api.get(f"/api/commands/{key}")
                # During the failover the front may briefly have no ready node (503).
                if answer.status_code != 200 or answer.json().get("status") not in TERMINAL:
                    return False
            return True
    return False


async def test_sigkill_of_a_node_moves_its_stations_to_the_others_and_every_command_ends_once(
    tmp_path: Path, postgres_dsn: str
) -> None:
    """I4, I7, I8: kill -9 of a node: every command ends once, transaction ids stay unique, one live
    connection per station."""
    nodes = start_cluster(tmp_path, postgres_dsn, 3, *FAST, "--lease", "3")
    front_ocpp, front_api = free_port(), free_port()
    addresses = [_address(node, n + 1) for n, node in enumerate(nodes)]
    haproxy = start_haproxy(
        haproxy_config(
            addresses,
            front_ocpp,
            front_api,
            check_interval_ms=300,
            maxconn=front_maxconn_here(),
        ),
        tmp_path,
    )
    front = f"ws://127.0.0.1:{front_ocpp}/ocpp"
    api_url = f"http://127.0.0.1:{front_api}"
    stop = asyncio.Event()
    states = [ChargerState(f"F-{n:02d}") for n in range(STATIONS)]
    chargers = []
    keys = [f"f-{n}" for n in range(COMMANDS)]
    try:
        await asyncio.sleep(1.0)  # the front's first health checks
        chargers = [asyncio.create_task(run_charger(s, front, stop)) for s in states]
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in states)), 20)
        operators = asyncio.Semaphore(10)
        api = httpx.AsyncClient(
            base_url=api_url, timeout=5, headers={"Authorization": f"Bearer {TOKEN}"}
        )

        async def command(n: int) -> None:
            async with operators:
                state = states[n % STATIONS]
                await _post(api, state.station_id, keys[n], n // STATIONS + 1)

        posting = [asyncio.create_task(command(n)) for n in range(COMMANDS)]
        await asyncio.sleep(0.3)  # commands in flight
        nodes[1].stop(signal.SIGKILL)
        await asyncio.gather(*posting)
        await api.aclose()
        deadline = asyncio.get_running_loop().time() + 30
        while not await _all_terminal(api_url, keys):
            assert asyncio.get_running_loop().time() < deadline, "commands did not all end"
            await asyncio.sleep(0.3)
        await asyncio.sleep(1.0)  # StartTransactions still owed after the last answer
    finally:
        stop.set()
        for task in chargers:
            task.cancel()
        await asyncio.gather(*chargers, return_exceptions=True)
        haproxy.terminate()
        haproxy.wait(5)
        for node in nodes:
            node.stop()

    moved = [state.station_id for state in states if state.boots > 1]
    assert moved, "no station was on the node that was killed"
    dispatches, terminals, log = await read_log(postgres_dsn)
    received: Counter[str] = Counter()
    for state in states:
        received.update(state.received)
        assert not state.owed, f"{state.station_id} never got an answer to {state.owed}"
    for key in keys:
        assert terminals[key] == 1, f"{key} ended {terminals[key]} times"
        assert received[key] <= 1, f"{key} reached its station {received[key]} times"
        assert received[key] <= dispatches[key], f"{key} was sent without a recorded dispatch"
    started = [event for event in log if isinstance(event, e.TransactionStarted)]
    ids = [event.transaction_id for event in started]
    assert len(ids) == len(set(ids)), "a transaction id was given twice"
    answered = {tid for state in states for tid in state.transactions.values()}
    assert answered == set(ids), "a StartTransaction answered is not in the log, or the reverse"
    assert len(started) == sum(received.values()), "a StartTransaction was lost or doubled"
