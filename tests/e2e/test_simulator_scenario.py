"""``chargeledger simulate --scenario`` plays a site's day against a served node: cars
arrive, a driver's tag is authorized (by the CSMS, then from the cache while the
network is down), and every session reaches the CSMS."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tests.e2e.conftest import ServedNode


async def test_a_scenario_file_plays_sessions_through_a_network_outage(
    node: ServedNode, tmp_path: Path
) -> None:
    async with node.client() as api:
        assert (await api.put("/api/id-tags/TAG-1", json={"status": "Accepted"})).is_success
    scenario = {
        "speed": 10,
        "stations": [{"id": "SCN-01", "connectors": 2, "meter_interval_s": 2}],
        "events": [
            {"at": 0, "station": "SCN-01", "connector": 1, "do": "arrive", "id_tag": "TAG-1",
             "stay": "30s", "battery_kwh": 40, "soc": 50, "max_kw": 50},
            {"at": 5, "station": "SCN-01", "do": "offline", "for": "10s"},
            {"at": 8, "station": "SCN-01", "connector": 2, "do": "plug"},
            {"at": 9, "station": "SCN-01", "connector": 2, "do": "tag", "id_tag": "TAG-1"},
            {"at": 12, "station": "SCN-01", "connector": 2, "do": "unplug"},
        ],
    }  # fmt: skip
    file = tmp_path / "site.json"
    file.write_text(json.dumps(scenario))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chargeledger.entrypoints.cli",
        "simulate",
        "--scenario",
        str(file),
        "--url",
        node.ocpp_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = err.decode()
    assert process.returncode == 0, output
    assert "00:00:00 SCN-01/1 arrive TAG-1" in output
    assert "00:00:05 SCN-01 offline" in output
    after_the_outage = output.split("00:00:12 SCN-01/2 unplug")[1].splitlines()
    assert any(line.startswith("1/1 connected") for line in after_the_outage), output
    assert "0 transaction messages waiting" in after_the_outage[-1]
    async with node.client() as api:
        sessions = (await api.get("/api/transactions", params={"station": "SCN-01"})).json()
    assert sorted((s["connector_id"], s["status"], s["stop_reason"]) for s in sessions) == [
        (1, "stopped", "EVDisconnected"),
        (2, "stopped", "EVDisconnected"),
    ]
    assert all(s["energy_wh"] > 0 for s in sessions)


async def test_a_scenario_with_a_mistake_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    file = tmp_path / "site.yaml"
    file.write_text("stations: [{id: S}]\nevents: [{at: 0, station: S, do: fly}]\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chargeledger.entrypoints.cli",
        "simulate",
        "--scenario",
        str(file),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert err.decode().strip().splitlines() == [
        f"simulate: {file}: events[0].do: 'fly' is not one of arrive, plug, tag, unplug, offline"
    ]
