"""Meter values are telemetry: they show on the session but never move the station's
business stream, so they can never cause the seed's version conflict (I5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ocpp.v16 import call

from tests.e2e.conftest import ServedNode, connected_station, eventually


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def test_meter_values_show_on_the_session_without_moving_the_stream(
    node: ServedNode,
) -> None:
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
