"""Several nodes on one PostgreSQL database are one CSMS: a station is held by one
connection cluster-wide (I8), and a command posted to any node reaches its station
once, through the node holding it (I4)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path
from typing import Any

import httpx
from ocpp.v16 import call

from tests.e2e.cluster_support import FAST, Fleet, read_log, start_cluster, station_on
from tests.e2e.conftest import ServedNode, eventually

TERMINAL = {"accepted", "rejected", "timed_out", "expired", "failed"}


async def _post(node: ServedNode, station_id: str, key: str, connector: int) -> None:
    async with node.client() as api:
        response = await api.post(
            f"/api/stations/{station_id}/commands/remote-start",
            json={"connector_id": connector, "id_tag": key},
            headers={"Idempotency-Key": key},
        )
    assert response.status_code == 202, response.text


async def _status(node: ServedNode, key: str) -> str | None:
    async with node.client() as api:
        status: str | None = (await api.get(f"/api/commands/{key}")).json().get("status")
        return status


async def test_a_station_moving_between_nodes_keeps_one_live_connection_and_no_call_is_sent_on_a_fenced_one(  # noqa: E501
    tmp_path: Path, postgres_dsn: str
) -> None:
    """I8 across nodes: each new connection, on the other node, closes the older one
    (on its own node, in its own task); commands sent between moves arrive only on the
    newest connection, exactly once."""
    nodes = start_cluster(tmp_path, postgres_dsn, 2, *FAST)
    fleet = Fleet()
    try:
        async with contextlib.AsyncExitStack() as connections:
            _, older = await connections.enter_async_context(
                station_on(nodes[0].ocpp_url, "MOVER", fleet)
            )
            for hop in range(1, 5):
                holder = nodes[hop % 2]
                _, newer = await connections.enter_async_context(
                    station_on(holder.ocpp_url, "MOVER", fleet)
                )
                await asyncio.wait_for(older.wait_closed(), 5)  # closed by its own node
                key = f"hop-{hop}"
                await _post(nodes[(hop + 1) % 2], "MOVER", key, hop)  # decided elsewhere
                await eventually(lambda k=key: _accepted(nodes, k), timeout=10)
                older = newer
    finally:
        for node in nodes:
            node.stop()
    for record in fleet.calls:
        assert record.connection == record.newest, f"a CALL came on a fenced connection: {record}"
    assert fleet.received() == {f"hop-{hop}": 1 for hop in range(1, 5)}
    dispatches, terminals, _ = await read_log(postgres_dsn)
    assert all(terminals[f"hop-{hop}"] == 1 == dispatches[f"hop-{hop}"] for hop in range(1, 5))


async def _accepted(nodes: list[ServedNode], key: str) -> bool:
    return await _status(random.choice(nodes), key) == "accepted"


STATIONS = 200


async def test_commands_posted_to_any_node_reach_their_stations_once_through_the_nodes_holding_them(
    tmp_path: Path, postgres_dsn: str
) -> None:
    """I4, I9 routing: 200 stations spread over three nodes, each command posted to a random
    node; every one is sent once, by its station's node, and ends once (I4). A read on
    another node with the writer's position sees the writer's event (I9)."""
    nodes = start_cluster(tmp_path, postgres_dsn, 3, *FAST)
    fleet = Fleet()
    rng = random.Random(13)
    ids = [f"R-{n:03d}" for n in range(STATIONS)]
    done = asyncio.Event()
    booted: list[str] = []
    try:
        holding = [
            asyncio.create_task(_hold(nodes[n % 3].ocpp_url, sid, fleet, booted, done))
            for n, sid in enumerate(ids)
        ]
        await eventually(lambda: _all_booted(booted), timeout=20)
        operators = asyncio.Semaphore(16)  # operators working at once
        clients = [node.client() for node in nodes]  # one client (connection pool) per node
        async with contextlib.AsyncExitStack() as open_clients, asyncio.TaskGroup() as posting:
            for client in clients:
                await open_clients.enter_async_context(client)
            for station_id in ids:
                writer, reader = rng.sample(clients, 2)
                posting.create_task(_post_and_read(operators, writer, reader, station_id))
        async with nodes[0].client() as api:
            await eventually(lambda: _all_ended(api, ids), timeout=20, interval=0.2)
    finally:
        done.set()
        await asyncio.gather(*holding, return_exceptions=True)
        for node in nodes:
            node.stop()
    dispatches, terminals, _ = await read_log(postgres_dsn)
    for station_id in ids:
        key = f"cmd-{station_id}"
        assert terminals[key] == 1, f"{key} ended {terminals[key]} times"
        assert fleet.received()[key] == dispatches[key] == 1, key


async def _post_and_read(
    operators: asyncio.Semaphore,
    writer: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    station_id: str,
) -> None:
    key = f"cmd-{station_id}"
    async with operators:
        response = await writer.post(
            f"/api/stations/{station_id}/commands/remote-start",
            json={"connector_id": 1, "id_tag": key},
            headers={"Idempotency-Key": key},
        )
        assert response.status_code == 202, response.text
        position = response.json()["position"]
        seen = await reader.get(f"/api/commands/{key}", params={"min_position": position})
    assert seen.status_code == 200, seen.text
    assert seen.json()["position"] >= position


async def _hold(
    url: str, station_id: str, fleet: Fleet, booted: list[str], done: asyncio.Event
) -> None:
    async with station_on(url, station_id, fleet):
        booted.append(station_id)
        await done.wait()


async def _all_booted(booted: list[str]) -> bool:
    return len(booted) == STATIONS


async def _all_ended(api: httpx.AsyncClient, ids: list[str]) -> bool:
    for station_id in ids:
        view = (await api.get(f"/api/commands/cmd-{station_id}")).json()
        if view.get("status") not in TERMINAL:
            return False
    return True


def _reading(minute: int, wh: int) -> dict[str, Any]:
    return {
        "timestamp": f"2026-01-01T00:{minute:02}:00Z",
        "sampled_value": [{"value": str(wh), "measurand": "Energy.Active.Import.Register"}],
    }


async def _session(node: ServedNode, station_id: str) -> dict[str, Any]:
    async with node.client() as api:
        [found] = (await api.get("/api/transactions", params={"station": station_id})).json()
        points = await api.get(f"/api/transactions/{found['transaction_id']}/meter-values")
    session: dict[str, Any] = {**found, "points": points.json()["points"]}
    return session


async def test_a_1_6_takeover_within_the_flush_interval_keeps_every_meter_value(
    tmp_path: Path, postgres_dsn: str
) -> None:
    """Issue 13: MeterValues taken by node A, the station moves to node B within the
    twin's flush interval and sends more there: the session's count and chart keep
    every reading, on both nodes (each node's readings are merged into the stored
    document, not written over it)."""
    nodes = start_cluster(tmp_path, postgres_dsn, 2, *FAST)
    fleet = Fleet()
    try:
        async with contextlib.AsyncExitStack() as connections:
            on_a, older = await connections.enter_async_context(
                station_on(nodes[0].ocpp_url, "METERED", fleet)
            )
            started = await on_a.call(
                call.StartTransaction(
                    connector_id=1, id_tag="TAG", meter_start=0, timestamp="2026-01-01T00:00:00Z"
                )
            )
            tx = started.transaction_id
            for minute in (1, 2):
                await on_a.call(call.MeterValues(1, [_reading(minute, 100 * minute)], tx))
            on_b, _ = await connections.enter_async_context(
                station_on(nodes[1].ocpp_url, "METERED", fleet)
            )
            await asyncio.wait_for(older.wait_closed(), 5)  # fenced by node A
            await on_b.call(call.MeterValues(1, [_reading(3, 300)], tx))
            await on_b.call(
                call.StopTransaction(
                    transaction_id=tx, meter_stop=400, timestamp="2026-01-01T00:04:00Z"
                )
            )
            await asyncio.sleep(1.0)  # both nodes' telemetry flushed (every 0.5 s)
            sessions = [await _session(node, "METERED") for node in nodes]
    finally:
        for node in nodes:
            node.stop()
    for session in sessions:
        assert session["meter_value_count"] == 3
        assert [point["energy_wh"] for point in session["points"]] == [100, 200, 300]
        assert session["last_meter_value"]["timestamp"] == "2026-01-01T00:03:00Z"
