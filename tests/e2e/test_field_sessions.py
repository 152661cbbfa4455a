"""Issue 11, end to end: sessions as the field's stations run them, against a served
node, with stations made from the ``ocpp`` package's ``ChargePoint``."""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call

from tests.e2e.conftest import ServedNode, connected_station, eventually

STAMP = "2026-03-01T10:00:00Z"
LATER = "2026-03-01T11:00:00Z"


async def add_tag(api: Any, tag: str, status: str = "Accepted") -> None:
    response = await api.put(f"/api/id-tags/{tag}", json={"status": status})
    assert response.status_code == 200, response.text


async def session(api: Any, transaction_id: int, status: str) -> dict[str, Any]:
    async def found() -> Any:
        listed = (await api.get("/api/transactions")).json()
        match = [t for t in listed if t["transaction_id"] == transaction_id]
        return match[0] if match and match[0]["status"] == status else None

    result: dict[str, Any] = await eventually(found)
    return result


async def test_a_meter_that_restarted_at_zero_records_no_negative_energy(
    node: ServedNode,
) -> None:
    async with connected_station(node, "CP-METER") as station, node.client() as api:
        await station.boot()
        await add_tag(api, "TAG-M")
        started = await station.call(
            call.StartTransaction(connector_id=1, id_tag="TAG-M", meter_start=193, timestamp=STAMP)
        )
        await station.call(
            call.StopTransaction(
                meter_stop=50, timestamp=LATER, transaction_id=started.transaction_id
            )
        )
        stopped = await session(api, started.transaction_id, "stopped")
        assert stopped["energy_wh"] == 0
        assert "below" in stopped["energy_anomaly"]
        assert stopped["stop_reason"] == "Local"  # no reason sent: OCPP 1.6 §6.49
