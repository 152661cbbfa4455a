"""Our OCPP 2.0.1 simulated station against a served node: a remote start becomes a
whole TransactionEvent session, stopped on request."""

from __future__ import annotations

import asyncio
from typing import Any

from chargeledger.simulator.fleet import StationRun, run_station
from chargeledger.simulator.station import Behaviour
from tests.e2e.conftest import ServedNode, eventually


async def test_a_simulated_2_0_1_station_charges_after_a_remote_start_and_stops_on_request(
    node: ServedNode,
) -> None:
    stop = asyncio.Event()
    run = StationRun("SIM-201", protocol="ocpp2.0.1")
    behaviour = Behaviour(connectors=2, charge_seconds=(60, 60), meter_interval_s=0.2)
    station = asyncio.create_task(run_station(node.ocpp_url, run, stop, 5.0, behaviour))
    try:
        async with node.client() as api:
            await api.put("/api/id-tags/DRIVER-1", json={"status": "Accepted"})

            async def connected() -> Any:
                view = (await api.get("/api/stations/SIM-201")).json()
                return view if len(view.get("evses", [])) == 2 else None

            view = await eventually(connected)
            assert view["protocol"] == "ocpp2.0.1"
            start = await api.post(
                "/api/stations/SIM-201/commands/remote-start",
                json={"connector_id": 2, "id_tag": "DRIVER-1"},
            )
            assert start.status_code == 202

            async def charging() -> Any:
                sessions = (await api.get("/api/transactions?station=SIM-201")).json()
                open_ = [s for s in sessions if s["status"] == "open"]
                return open_[0] if open_ else None

            session = await eventually(charging)
            assert session["connector_id"] == 2
            assert session["remote_start_command_id"] == start.json()["command_id"]
            await asyncio.sleep(0.6)  # a few Updated with meter values
            stop_command = await api.post(
                "/api/stations/SIM-201/commands/remote-stop",
                json={"transaction_id": session["transaction_id"]},
            )
            assert stop_command.status_code == 202

            async def stopped() -> Any:
                sessions = (await api.get("/api/transactions?station=SIM-201")).json()
                done = [s for s in sessions if s["status"] != "open"]
                return done[0] if done else None

            ended = await eventually(stopped)
            assert ended["stop_reason"] == "Remote"
            assert ended["energy_wh"] > 0
            assert ended["station_transaction_id"].startswith("SIM-201-")
    finally:
        stop.set()
        await asyncio.wait_for(station, 10)
