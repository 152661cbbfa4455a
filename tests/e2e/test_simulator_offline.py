"""The simulator keeps its sessions across a lost network and a node killed and
restarted: every start, reading and stop reaches the CSMS, in order, once it can."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chargeledger.simulator.charger import Charger
from chargeledger.simulator.charger_parts import Behaviour
from chargeledger.simulator.fleet import StationRun, progress, run_station
from chargeledger.simulator.power import Vehicle
from tests.conftest import free_port
from tests.e2e import conftest
from tests.e2e.conftest import ServedNode, eventually, start_node

FAST_CAR = Vehicle(battery_wh=1_000_000, max_power_w=400_000)


def _behaviour() -> Behaviour:
    return Behaviour(
        connectors=2,
        charge_seconds=None,
        meter_interval_s=0.1,
        power_w=400_000,
        vehicle=FAST_CAR,
        reconnect_base_s=0.1,
        reconnect_cap_s=0.5,
        response_timeout_s=5.0,
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _last(charger: Charger, action: str) -> dict[str, Any]:
    return next(m.payload for m in reversed(charger.outbox._messages) if m.action == action)


async def _sessions(node: ServedNode, station: str) -> list[dict[str, Any]]:
    async with node.client() as api:
        found: list[dict[str, Any]] = (
            await api.get("/api/transactions", params={"station": station})
        ).json()
    return sorted(found, key=lambda s: s["transaction_id"])


async def test_a_session_that_ends_while_the_network_is_down_reaches_the_csms_in_order(
    node: ServedNode,
) -> None:
    charger = Charger("OFF-1", _behaviour())
    run = StationRun("OFF-1", charger=charger)
    stop = asyncio.Event()
    task = asyncio.create_task(run_station(node.ocpp_url, run, stop, 5.0))
    try:
        async with node.client() as api:
            assert (await api.put("/api/id-tags/DRIVER", json={"status": "Accepted"})).is_success

        async def connected() -> bool:
            return run.connected

        await eventually(connected)
        charger.plug(1)
        assert await charger.present_tag(1, "DRIVER") == "Accepted"  # by Authorize

        async def metering() -> Any:
            sessions = await _sessions(node, "OFF-1")
            return sessions if sessions and sessions[0]["meter_value_count"] >= 2 else None

        (before,) = await eventually(metering)
        charger.go_offline(1.5)
        await asyncio.sleep(0.3)
        assert not run.connected
        charger.plug(2)
        assert await charger.present_tag(2, "DRIVER") == "Accepted"  # from the cache
        offline_start = _last(charger, "StartTransaction")
        assert offline_start["connector_id"] == 2
        await asyncio.sleep(0.3)
        charger.unplug(1)
        meter_stop_1 = _last(charger, "StopTransaction")["meter_stop"]
        await asyncio.sleep(0.3)
        charger.unplug(2)
        assert charger.outbox.durable_count > 4

        async def delivered() -> Any:
            sessions = await _sessions(node, "OFF-1")
            done = len(sessions) == 2 and all(s["status"] == "stopped" for s in sessions)
            return sessions if done and not charger.outbox.durable_count else None

        first, second = await eventually(delivered, timeout=15)
        assert run.connected and run.connections == 2
        assert first["transaction_id"] == before["transaction_id"]
        assert first["stop_reason"] == "EVDisconnected"
        assert first["meter_stop"] == meter_stop_1
        assert first["meter_value_count"] > before["meter_value_count"]
        assert second["connector_id"] == 2
        assert second["meter_start"] == offline_start["meter_start"]
        assert _time(second["started_at"]) == _time(offline_start["timestamp"])
        async with node.client() as api:
            history = (await api.get("/api/stations/OFF-1/events")).json()
        order = [e["type"] for e in history if e["type"].startswith("Transaction")]
        assert order == [
            "TransactionStarted",
            "TransactionStarted",
            "TransactionStopped",
            "TransactionStopped",
        ]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.fixture
def fixed_ports(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int]]:
    """The same OCPP and API ports for a node and the node that replaces it."""
    ports = (free_port(), free_port())
    calls = iter(range(1_000))
    monkeypatch.setattr(conftest, "free_port", lambda: ports[next(calls) % 2])
    yield ports


async def test_stations_keep_their_sessions_across_a_node_killed_and_restarted(
    tmp_path: Path, fixed_ports: tuple[int, int]
) -> None:
    node = start_node(tmp_path)
    async with node.client() as api:
        assert (await api.put("/api/id-tags/DRIVER", json={"status": "Accepted"})).is_success
    runs = [StationRun(f"KILL-{n}", charger=Charger(f"KILL-{n}", _behaviour())) for n in (1, 2, 3)]
    chargers = [run.charger for run in runs if run.charger is not None]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_station(node.ocpp_url, r, stop, 5.0)) for r in runs]
    try:

        async def all_connected() -> bool:
            return all(r.connected for r in runs)

        await eventually(all_connected)
        for charger in chargers:
            for connector in (1, 2):
                charger.plug(connector)
                assert await charger.present_tag(connector, "DRIVER") == "Accepted"

        async def open_sessions() -> Any:
            open_ = [
                s
                for r in runs
                for s in await _sessions(node, r.station_id)
                if s["status"] == "open"
            ]
            return len(open_) == 6

        await eventually(open_sessions)
        node.stop(signal.SIGKILL)
        await asyncio.sleep(0.3)
        for charger in chargers:
            charger.unplug(1)  # stops while no node is there
        chargers[0].plug(1)
        assert await chargers[0].present_tag(1, "DRIVER") == "Accepted"  # offline, cache
        await asyncio.sleep(0.3)
        assert not any(r.connected for r in runs)
        node = start_node(tmp_path, store=node.store)
        await eventually(all_connected, timeout=15)
        assert progress(runs, 0).startswith("3/3 connected")
        for charger in chargers:
            charger.unplug(2)
        chargers[0].unplug(1)

        async def all_stopped() -> Any:
            sessions = [s for r in runs for s in await _sessions(node, r.station_id)]
            settled = not any(c.outbox.durable_count for c in chargers)
            return sessions if settled and all(s["status"] == "stopped" for s in sessions) else None

        sessions = await eventually(all_stopped, timeout=20)
        assert len(sessions) == 7 == sum(c.counters.transactions for c in chargers)
        assert {s["stop_reason"] for s in sessions} == {"EVDisconnected"}
        assert all(s["energy_wh"] > 0 for s in sessions)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        node.stop()
