"""Meter values are telemetry: they show on the session but never move the station's
business stream, so they can never cause the seed's version conflict (I5)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.v16 import call

from tests.e2e.conftest import ServedNode, connected_station, eventually, start_node


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def test_meter_values_show_on_the_session_without_moving_the_stream(
    node: ServedNode,
) -> None:
    """I5: meter values reach the session view without moving the station's stream version."""
    async with connected_station(node, "MTR-1") as station, node.client() as api:
        await station.boot()
        started = await station.call(
            call.StartTransaction(connector_id=1, id_tag="T", meter_start=1000, timestamp=_now())
        )
        version = await eventually(
            lambda: _version_when(api, "MTR-1", lambda v: v >= 2), timeout=10
        )
        for n in range(1, 6):
            await station.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[
                        {"timestamp": _now(), "sampledValue": [{"value": str(1000 + n * 100)}]}
                    ],
                )
            )

        async def counted() -> Any:
            sessions = (await api.get("/api/transactions?station=MTR-1")).json()
            return sessions[0] if sessions and sessions[0]["meter_value_count"] == 5 else None

        session = await eventually(counted)
        assert session["last_meter_value"]["sampledValue"][0]["value"] == "1500"
        assert (await api.get("/api/stations/MTR-1")).json()["version"] == version


async def _version_when(api: Any, station_id: str, ok: Any) -> int | None:
    version = int((await api.get(f"/api/stations/{station_id}")).json()["version"])
    return version if ok(version) else None


async def test_a_sessions_readings_over_time_are_kept_for_its_chart_across_a_restart(
    tmp_path: Path,
) -> None:
    served = start_node(tmp_path)
    try:
        async with connected_station(served, "MTR-2") as station:
            await station.boot()
            started = await station.call(
                call.StartTransaction(
                    connector_id=1, id_tag="T", meter_start=0, timestamp="2026-06-01T10:00:00Z"
                )
            )
            for minute in range(1, 4):
                await station.call(
                    call.MeterValues(
                        connector_id=1,
                        transaction_id=started.transaction_id,
                        meter_value=[
                            {
                                "timestamp": f"2026-06-01T10:0{minute}:00Z",
                                "sampledValue": [
                                    {"value": str(minute * 0.1), "unit": "kWh"},
                                    {"value": "6000", "measurand": "Power.Active.Import"},
                                ],
                            }
                        ],
                    )
                )
        path = f"/api/transactions/{started.transaction_id}/meter-values"
        async with served.client() as api:

            async def three_points() -> Any:
                body = (await api.get(path)).json()
                return body if len(body["points"]) == 3 else None

            series = await eventually(three_points)
            assert (await api.get("/api/transactions/999999/meter-values")).status_code == 404
    finally:
        served.stop()
    assert [p["energy_wh"] for p in series["points"]] == [100.0, 200.0, 300.0]
    assert {p["power_w"] for p in series["points"]} == {6000.0}
    assert series["points"][0]["at"] == "2026-06-01T10:01:00Z"

    again = start_node(tmp_path, store=served.store)
    try:
        async with again.client() as api:
            assert (await api.get(path)).json()["points"] == series["points"]
    finally:
        again.stop()
