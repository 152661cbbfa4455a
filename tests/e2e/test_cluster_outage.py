"""PostgreSQL away from a cluster: a node cut from it sends no CALL until it is back,
says so in ``/readyz`` and recovers by itself; a restart of the server under load
leaves every node working again without an operator, every command with one
terminal outcome and no CALL doubled (I3, I4, I8).

Both run on a PostgreSQL server of the test's own (never the machine's shared one).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.typing import Subprotocol

from tests.e2e.cluster_support import FAST, read_log
from tests.e2e.conftest import TOKEN, ServedNode, eventually, start_node
from tests.e2e.private_postgres import CuttableRelay, PrivateServer
from tests.e2e.private_postgres import private_postgres as private_postgres  # the fixture

TERMINAL = {"accepted", "rejected", "timed_out", "expired", "failed"}
LEASE = ("--lease", "3")


@dataclass
class Calls:
    """Every RemoteStart a station received: (id tag, when, on which connection)."""

    received: list[tuple[str, float, int]] = field(default_factory=list)
    connections: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def tags(self) -> Counter[str]:
        return Counter(tag for tag, _, _ in self.received)


class Recorder(ChargePoint):  # type: ignore[misc]
    def __init__(self, station_id: str, connection: Any, calls: Calls) -> None:
        super().__init__(station_id, connection)
        self.calls = calls

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, **payload: Any) -> Any:
        self.calls.received.append((payload["id_tag"], time.monotonic(), self.calls.connections))
        return call_result.RemoteStartTransaction(status="Accepted")


async def keep_connected(url: str, station_id: str, calls: Calls, stop: asyncio.Event) -> None:
    """A station that comes back to the same node whenever its connection ends."""
    while not stop.is_set():
        with contextlib.suppress(OSError, websockets.WebSocketException, asyncio.TimeoutError):
            async with websockets.connect(
                f"{url}/{station_id}", subprotocols=[Subprotocol("ocpp1.6")], open_timeout=5
            ) as ws:
                calls.connections += 1
                station = Recorder(station_id, ws, calls)
                reader = asyncio.create_task(station.start())
                try:
                    await asyncio.wait_for(
                        station.call(
                            call.BootNotification(charge_point_vendor="t", charge_point_model="o")
                        ),
                        10,
                    )
                    calls.connected.set()
                    await reader
                finally:
                    reader.cancel()
                    calls.connected.clear()
        await asyncio.sleep(0.2)


def client(node: ServedNode) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=node.api_url, timeout=5, headers={"Authorization": f"Bearer {TOKEN}"}
    )


async def remote_start(node: ServedNode, station_id: str, key: str, connector: int = 1) -> None:
    async with client(node) as api:
        response = await api.post(
            f"/api/stations/{station_id}/commands/remote-start",
            json={"connector_id": connector, "id_tag": key},
            headers={"Idempotency-Key": key},
        )
    assert response.status_code == 202, response.text


async def status_of(node: ServedNode, key: str) -> str | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        async with client(node) as api:
            return (await api.get(f"/api/commands/{key}")).json().get("status")  # type: ignore[no-any-return]
    return None


async def readiness(node: ServedNode) -> tuple[int, dict[str, Any]]:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        # Checks that cannot reach the store wait out their own timeouts (seconds).
        async with httpx.AsyncClient(timeout=15) as http:
            response = await http.get(f"{node.api_url}/readyz")
            return response.status_code, response.json()
    return 0, {}


def start_nodes(tmp_path: Path, urls: list[str]) -> list[ServedNode]:
    nodes: list[ServedNode] = []
    try:
        for n, url in enumerate(urls, start=1):
            folder = tmp_path / f"node{n}"
            folder.mkdir()
            nodes.append(start_node(folder, "--node-id", f"node-{n}", *FAST, *LEASE, store=url))
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


async def test_a_node_cut_from_postgresql_sends_no_call_until_it_is_back_and_recovers_by_itself(
    tmp_path: Path, private_postgres: PrivateServer
) -> None:
    """I3, I4: a node that cannot commit sends no CALL; every command ends once."""
    dsn = private_postgres.database(f"cut_{uuid.uuid4().hex[:8]}")
    relay = CuttableRelay(private_postgres.port)
    # node-1 starts first, so it is the leader: its cut moves the leadership too.
    cut_node, other = start_nodes(tmp_path, [relay.url(dsn), dsn])
    stop = asyncio.Event()
    on_cut, on_other = Calls(), Calls()
    stations = [
        asyncio.create_task(keep_connected(cut_node.ocpp_url, "CUT-1", on_cut, stop)),
        asyncio.create_task(keep_connected(other.ocpp_url, "KEPT-1", on_other, stop)),
    ]
    try:
        await asyncio.wait_for(on_cut.connected.wait(), 15)
        await asyncio.wait_for(on_other.connected.wait(), 15)
        await remote_start(other, "CUT-1", "before", 1)  # routed to the node about to be cut
        await eventually(lambda: _received(on_cut, "before"), 15)

        relay.cut()
        cut_at = time.monotonic()

        async def says_store_is_down() -> bool:
            code, body = await readiness(cut_node)
            return code == 503 and "store" in body.get("failing", {})

        await eventually(says_store_is_down, 20, 0.2)
        await remote_start(other, "CUT-1", "during", 2)
        await remote_start(other, "KEPT-1", "elsewhere", 1)
        # The cluster goes on without the cut node, its leader until then: the other
        # station is served, and the read models (the new leader's) show the outcome.
        await eventually(lambda: _received(on_other, "elsewhere"), 15)
        await eventually(lambda: _ended(other, "elsewhere"), 15, 0.2)
        await asyncio.sleep(3.0)  # past the cut node's lease
        code, _ = await readiness(cut_node)
        assert code == 503, "the cut node said it was ready while it could not reach PostgreSQL"

        relay.restore()
        restored_at = time.monotonic()
        await eventually(lambda: _ready(cut_node), 30, 0.2)
        await eventually(lambda: _received(on_cut, "during"), 30)
        for key in ("before", "during", "elsewhere"):
            await eventually(lambda key=key: _ended(other, key), 30, 0.2)
            await eventually(lambda key=key: _ended(cut_node, key), 30, 0.2)
    finally:
        stop.set()
        for task in stations:
            task.cancel()
        await asyncio.gather(*stations, return_exceptions=True)
        for node in (cut_node, other):
            node.stop()
        relay.close()

    sent_while_cut = [tag for tag, at, _ in on_cut.received if cut_at <= at < restored_at]
    assert sent_while_cut == [], f"the cut node sent {sent_while_cut} without PostgreSQL"
    dispatches, terminals, _ = await read_log(dsn)
    received = on_cut.tags() + on_other.tags()
    for key in ("before", "during", "elsewhere"):
        assert terminals[key] == 1, f"{key} ended {terminals[key]} times"
        assert received[key] == 1, f"{key} reached its station {received[key]} times"
        assert dispatches[key] >= 1


async def _received(calls: Calls, tag: str) -> bool:
    return tag in calls.tags()


async def _ready(node: ServedNode) -> bool:
    return (await readiness(node))[0] == 200


async def _ended(node: ServedNode, key: str) -> bool:
    return await status_of(node, key) in TERMINAL


STATIONS = 12
OPERATORS = 6


async def test_a_postgresql_restart_under_load_leaves_every_node_working_and_commands_ending_once(
    tmp_path: Path, private_postgres: PrivateServer
) -> None:
    dsn = private_postgres.database(f"restart_{uuid.uuid4().hex[:8]}")
    nodes = start_nodes(tmp_path, [dsn, dsn, dsn])
    stop = asyncio.Event()
    calls = {f"R-{n:02d}": Calls() for n in range(STATIONS)}
    stations = [
        asyncio.create_task(keep_connected(nodes[n % 3].ocpp_url, sid, got, stop))
        for n, (sid, got) in enumerate(calls.items())
    ]
    keys: list[str] = []
    posted_after_restart: list[str] = []
    restarted = asyncio.Event()
    # More pairs than six paced operators post in the run, so the load spans the restart.
    pairs = iter([(sid, c) for c in range(1, 101) for sid in calls])
    rng = random.Random(13)

    async def operator(until: float) -> None:
        """POSTs to random nodes; a POST that fails is repeated with its key until it is
        recorded (the key makes the repeat harmless)."""
        while time.monotonic() < until:
            pair = next(pairs, None)
            if pair is None:
                return  # every (station, connector) has its command: a fast machine
            station_id, connector = pair
            key = f"{station_id}-c{connector}"
            keys.append(key)
            if restarted.is_set():
                posted_after_restart.append(key)
            for _ in range(60):
                with contextlib.suppress(httpx.HTTPError, AssertionError):
                    await remote_start(rng.choice(nodes), station_id, key, connector)
                    break
                await asyncio.sleep(0.5)
            else:
                raise AssertionError(f"{key} could not be recorded in 30 s")
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in calls.values())), 30)
        loading = asyncio.gather(*(operator(time.monotonic() + 9.0) for _ in range(OPERATORS)))
        await asyncio.sleep(2.0)
        await asyncio.to_thread(private_postgres.stop, "fast")
        await asyncio.sleep(1.5)
        await asyncio.to_thread(private_postgres.start)
        restarted.set()
        await asyncio.wait_for(loading, 60)
        for node in nodes:
            await eventually(lambda node=node: _ready(node), 30, 0.2)
        for key in keys:
            await eventually(lambda key=key: _ended(rng.choice(nodes), key), 60, 0.2)
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in calls.values())), 30)
        statuses = {key: await status_of(nodes[0], key) for key in posted_after_restart}
    finally:
        stop.set()
        for task in stations:
            task.cancel()
        await asyncio.gather(*stations, return_exceptions=True)
        for node in nodes:
            node.stop()

    assert posted_after_restart, "no command was posted after the restart"
    not_delivered = {k: s for k, s in statuses.items() if s != "accepted"}
    assert not not_delivered, f"commands posted after the restart did not reach: {not_delivered}"
    dispatches, terminals, _ = await read_log(dsn)
    received: Counter[str] = Counter()
    for got in calls.values():
        received.update(got.tags())
    for key in keys:
        assert terminals[key] == 1, f"{key} ended {terminals[key]} times"
        assert received[key] <= 1, f"{key} reached its station {received[key]} times"
        assert received[key] <= dispatches[key], f"{key} was sent without a recorded dispatch"
