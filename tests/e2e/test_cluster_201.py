"""OCPP 2.0.1 stations in a cluster (real nodes on one PostgreSQL database), the same
as 1.6's: a command posted to any node reaches its station once, through the node
holding it (I4); a station moving to another node keeps its transaction there and
is fenced on the first (I7, I8); 1.6 and 2.0.1 stations share the nodes."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from ocpp.v16 import call as call16

from tests.e2e.cluster_support import FAST, Fleet, read_log, start_cluster, station_on
from tests.e2e.conftest import ServedNode, eventually
from tests.e2e.station201 import Station201, connected_201, now

TERMINAL = {"accepted", "rejected", "timed_out", "expired", "failed"}


async def _post(node: ServedNode, path: str, key: str, body: dict[str, Any]) -> str:
    async with node.client() as api:
        response = await api.post(path, json=body, headers={"Idempotency-Key": key})
    assert response.status_code == 202, response.text
    command_id: str = response.json()["command_id"]
    return command_id


async def _ended(node: ServedNode, key: str) -> str | None:
    async with node.client() as api:
        status: str | None = (await api.get(f"/api/commands/{key}")).json().get("status")
    return status if status in TERMINAL else None


async def _sessions(node: ServedNode, station_id: str) -> list[dict[str, Any]]:
    async with node.client() as api:
        found: list[dict[str, Any]] = (
            await api.get("/api/transactions", params={"station": station_id})
        ).json()
    return found


async def _protocol(node: ServedNode, station_id: str, protocol: str) -> bool:
    async with node.client() as api:
        view = (await api.get(f"/api/stations/{station_id}")).json()
    return bool(view.get("protocol") == protocol)


def _asked(station: Station201, action: str) -> list[dict[str, Any]]:
    return [payload for name, payload in station.received if name == action]


async def test_a_remote_start_posted_on_one_node_reaches_a_2_0_1_station_held_by_another_once(
    tmp_path: Path, postgres_dsn: str
) -> None:
    nodes = start_cluster(tmp_path, postgres_dsn, 2, *FAST)
    try:
        async with connected_201(nodes[0], "C201-A") as station:
            await station.boot()
            await _post(
                nodes[1],
                "/api/stations/C201-A/commands/remote-start",
                "rs-201",
                {"connector_id": 1, "id_tag": "TAG-1"},
            )
            assert await eventually(lambda: _ended(nodes[1], "rs-201"), timeout=15) == "accepted"
            [asked] = _asked(station, "RequestStartTransaction")
            assert asked["evse_id"] == 1 and asked["id_token"]["id_token"] == "TAG-1"
            await station.transaction_event(
                "Started", "TX-A", 0, wh=10, id_token="TAG-1", trigger="RemoteStart",
                remote_start_id=asked["remote_start_id"],
            )  # fmt: skip

            async def linked() -> Any:
                found = await _sessions(nodes[1], "C201-A")
                return found if found and found[0]["remote_start_command_id"] == "rs-201" else None

            [session] = await eventually(linked)
            assert session["station_transaction_id"] == "TX-A"
            # Node B sees the station as its holder wrote it (a refresh later).
            await eventually(lambda: _protocol(nodes[1], "C201-A", "ocpp2.0.1"))
            await asyncio.sleep(0.5)  # time for a second delivery, were there one
            assert len(station.received) == 1
    finally:
        for node in nodes:
            node.stop()
    dispatches, terminals, _ = await read_log(postgres_dsn)
    assert dispatches["rs-201"] == terminals["rs-201"] == 1


@dataclass
class Moved:
    """What a takeover mid-transaction left: the session as node A reads it once
    ended, and as node B (the holder) reads it; both connections' stations."""

    ended: dict[str, Any]
    on_holder: dict[str, Any]
    on_first: dict[str, Any]
    """As node A reads it once both nodes' readings were written."""
    older: Station201
    newer: Station201


async def _move_mid_transaction(tmp_path: Path, dsn: str) -> Moved:
    """Started and Updated through node A, the station reconnects to node B (A fences
    its connection), Updated there, a remote stop posted to A, Ended through B."""
    nodes = start_cluster(tmp_path, dsn, 2, *FAST)
    try:
        async with contextlib.AsyncExitStack() as connections:
            older = await connections.enter_async_context(connected_201(nodes[0], "MOVER-201"))
            await older.boot()
            await older.transaction_event("Started", "TX-M", 0, wh=1000, id_token="TAG-M")
            await older.transaction_event("Updated", "TX-M", 1, wh=1200)
            newer = await connections.enter_async_context(connected_201(nodes[1], "MOVER-201"))
            await newer.boot()
            await asyncio.wait_for(older._connection.wait_closed(), 5)  # fenced by node A
            await newer.transaction_event("Updated", "TX-M", 2, wh=1500)

            async def open_session() -> Any:
                found = await _sessions(nodes[0], "MOVER-201")
                return found[0] if found and found[0]["status"] == "open" else None

            session = await eventually(open_session)
            await _post(
                nodes[0],
                "/api/stations/MOVER-201/commands/remote-stop",
                "stop-m",
                {"transaction_id": session["transaction_id"]},
            )
            assert await eventually(lambda: _ended(nodes[0], "stop-m"), timeout=15) == "accepted"
            await newer.transaction_event(
                "Ended", "TX-M", 3, wh=2000, trigger="RemoteStop", stopped_reason="Remote"
            )

            async def stopped() -> Any:
                found = await _sessions(nodes[0], "MOVER-201")
                return found if found and found[0]["status"] == "stopped" else None

            [ended] = await eventually(stopped)
            await asyncio.sleep(1.0)  # both nodes' telemetry flushed (every 0.5 s)
            [on_holder] = await _sessions(nodes[1], "MOVER-201")
            [on_first] = await _sessions(nodes[0], "MOVER-201")
    finally:
        for node in nodes:
            node.stop()
    return Moved(ended, on_holder, on_first, older, newer)


async def test_a_2_0_1_station_moving_to_another_node_keeps_its_transaction_and_is_fenced_on_the_first(  # noqa: E501
    tmp_path: Path, postgres_dsn: str
) -> None:
    """I7, I8 across nodes: the transaction begun through node A is updated and ended
    through node B after the takeover, one transaction; A closed its connection, and a
    command posted to A afterwards went to the station on B only, once."""
    moved = await _move_mid_transaction(tmp_path, postgres_dsn)
    ended = moved.ended
    assert ended["station_transaction_id"] == "TX-M"
    assert (ended["meter_start"], ended["meter_stop"], ended["energy_wh"]) == (1000, 2000, 1000)
    assert ended["stop_reason"] == "Remote"
    assert moved.on_holder["status"] == "stopped"
    assert moved.on_holder["transaction_id"] == ended["transaction_id"]
    assert _asked(moved.newer, "RequestStopTransaction") == [{"transaction_id": "TX-M"}]
    assert moved.older.received == []  # nothing went to the fenced connection
    dispatches, terminals, everything = await read_log(postgres_dsn)
    assert dispatches["stop-m"] == terminals["stop-m"] == 1
    kinds = [type(event).__name__ for event in everything]
    assert kinds.count("TransactionStarted") == kinds.count("TransactionStopped") == 1


async def test_a_takeover_within_the_flush_interval_keeps_every_meter_value(
    tmp_path: Path, postgres_dsn: str
) -> None:
    """The readings node A took before the takeover and those node B took after it are
    merged into the stored meter document whichever node writes first: the count and
    the chart keep all four, on the holder and on node A (which keeps no stale copy)."""
    moved = await _move_mid_transaction(tmp_path, postgres_dsn)
    assert moved.on_holder["meter_value_count"] == 4  # Started, 2 Updated, Ended
    assert moved.on_first["meter_value_count"] == 4  # and so on node A, read from the store
    assert moved.on_holder["last_meter_value"] == moved.on_first["last_meter_value"]


MIXED = 8
"""Stations of each version."""


async def test_a_mixed_fleet_of_1_6_and_2_0_1_stations_on_two_nodes_gets_each_command_once(
    tmp_path: Path, postgres_dsn: str
) -> None:
    """Each station on one of two nodes, each command posted to a random node: a 1.6
    station gets RemoteStartTransaction, a 2.0.1 one RequestStartTransaction, once; the
    sessions that follow get transaction ids unique across both nodes and versions."""
    nodes = start_cluster(tmp_path, postgres_dsn, 2, *FAST)
    fleet = Fleet()
    rng = random.Random(17)
    old_ids = [f"MIX16-{n}" for n in range(MIXED)]
    new_ids = [f"MIX201-{n}" for n in range(MIXED)]
    try:
        async with contextlib.AsyncExitStack() as connections:
            stations201: dict[str, Station201] = {}
            stations16: dict[str, Any] = {}
            for n, (old, new) in enumerate(zip(old_ids, new_ids, strict=True)):
                stations16[old], _ = await connections.enter_async_context(
                    station_on(nodes[n % 2].ocpp_url, old, fleet)
                )
                station = await connections.enter_async_context(
                    connected_201(nodes[(n + 1) % 2], new)
                )
                await station.boot()
                stations201[new] = station
            for station_id in old_ids + new_ids:
                await _post(
                    rng.choice(nodes),
                    f"/api/stations/{station_id}/commands/remote-start",
                    f"cmd-{station_id}",
                    {"connector_id": 1, "id_tag": f"cmd-{station_id}"},
                )
            async with nodes[0].client() as api:
                await eventually(lambda: _all_ended(api, old_ids + new_ids), timeout=20)
                for sid in old_ids + new_ids:
                    wanted = "ocpp1.6" if sid in old_ids else "ocpp2.0.1"
                    await eventually(lambda s=sid, w=wanted: _protocol(nodes[0], s, w))
            for sid, old_station in stations16.items():
                started = await old_station.call(
                    call16.StartTransaction(
                        connector_id=1, id_tag=f"cmd-{sid}", meter_start=0, timestamp=now()
                    )
                )
                await old_station.call(
                    call16.StopTransaction(
                        transaction_id=started.transaction_id, meter_stop=10, timestamp=now()
                    )
                )
            for sid, station in stations201.items():
                [asked] = _asked(station, "RequestStartTransaction")
                await station.transaction_event(
                    "Started", f"TX-{sid}", 0, wh=0, id_token=f"cmd-{sid}",
                    trigger="RemoteStart", remote_start_id=asked["remote_start_id"],
                )  # fmt: skip
                await station.transaction_event("Ended", f"TX-{sid}", 1, wh=10)

            async def all_stopped() -> Any:
                found = [s for sid in old_ids + new_ids for s in await _sessions(nodes[0], sid)]
                done = len(found) == 2 * MIXED and all(s["status"] == "stopped" for s in found)
                return found if done else None

            sessions = await eventually(all_stopped, timeout=15)
    finally:
        for node in nodes:
            node.stop()
    assert fleet.received() == {f"cmd-{sid}": 1 for sid in old_ids}
    for sid, station in stations201.items():
        [asked] = _asked(station, "RequestStartTransaction")
        assert asked["id_token"]["id_token"] == f"cmd-{sid}"
        assert len(station.received) == 1
    assert len({s["transaction_id"] for s in sessions}) == 2 * MIXED
    assert all(s["energy_wh"] == 10 for s in sessions)
    linked = {s["remote_start_command_id"] for s in sessions if "station_transaction_id" in s}
    assert linked == {f"cmd-{sid}" for sid in new_ids}
    dispatches, terminals, _ = await read_log(postgres_dsn)
    for sid in old_ids + new_ids:
        key = f"cmd-{sid}"
        assert dispatches[key] == terminals[key] == 1, key


async def _all_ended(api: httpx.AsyncClient, ids: list[str]) -> bool:
    for station_id in ids:
        view = (await api.get(f"/api/commands/cmd-{station_id}")).json()
        if view.get("status") != "accepted":
            return False
    return True
