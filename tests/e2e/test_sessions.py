"""Charging sessions end to end: a served node and a station from the ``ocpp`` package.

The ``ocpp`` ChargePoint gives every CALL a new message id, so sending the same
StartTransaction twice is exactly a station's retransmission after a lost answer.
"""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call

from tests.e2e.conftest import ServedNode, connected_station, eventually

STAMP = "2026-03-01T10:00:00Z"


async def add_tag(api: Any, tag: str, status: str = "Accepted", expiry: str | None = None) -> None:
    response = await api.put(f"/api/id-tags/{tag}", json={"status": status, "expiry": expiry})
    assert response.status_code == 200, response.text


async def sessions_of(api: Any, station_id: str, count: int) -> list[dict[str, Any]]:
    async def listed() -> Any:
        found = (await api.get("/api/transactions", params={"station": station_id})).json()
        return found if len(found) == count else None

    result: list[dict[str, Any]] = await eventually(listed)
    return result


async def test_authorize_answers_from_the_id_tag_registry(node: ServedNode) -> None:
    async with connected_station(node, "CP-A") as station, node.client() as api:
        await station.boot()
        await add_tag(api, "GOOD", expiry="2099-01-01T00:00:00Z")
        await add_tag(api, "LOST", status="Blocked")
        await add_tag(api, "OLD", expiry="2020-01-01T00:00:00Z")
        answers = {
            tag: (await station.call(call.Authorize(id_tag=tag))).id_tag_info
            for tag in ("GOOD", "LOST", "OLD", "NOBODY")
        }
        assert answers["GOOD"] == {"status": "Accepted", "expiry_date": "2099-01-01T00:00:00Z"}
        assert answers["LOST"]["status"] == "Blocked"
        assert answers["OLD"]["status"] == "Expired"
        assert answers["NOBODY"] == {"status": "Invalid"}


async def test_a_retransmitted_start_transaction_gets_the_same_id_and_creates_nothing(
    node: ServedNode,
) -> None:
    """I7: over OCPP, a retransmitted StartTransaction gets the same transactionId: one
    transaction."""
    async with connected_station(node, "CP-S") as station, node.client() as api:
        await station.boot()
        await add_tag(api, "TAG-1")
        start = call.StartTransaction(
            connector_id=1, id_tag="TAG-1", meter_start=100, timestamp=STAMP
        )
        first = await station.call(start)
        again = await station.call(start)
        assert again.transaction_id == first.transaction_id
        assert again.id_tag_info == first.id_tag_info == {"status": "Accepted"}
        other = await station.call(
            call.StartTransaction(connector_id=2, id_tag="TAG-1", meter_start=5, timestamp=STAMP)
        )
        assert other.transaction_id != first.transaction_id
        listed = await sessions_of(api, "CP-S", 2)
        assert [t["transaction_id"] for t in listed] == sorted(
            [first.transaction_id, other.transaction_id]
        )
        view = (await api.get("/api/stations/CP-S")).json()
        assert view["version"] == 3  # the boot and two sessions: the repeat added nothing


async def test_meter_values_then_a_repeated_stop_gets_the_same_answer(node: ServedNode) -> None:
    """I7: over OCPP, a repeated StopTransaction gets the same answer."""
    async with connected_station(node, "CP-M") as station, node.client() as api:
        await station.boot()
        await add_tag(api, "TAG-2", expiry="2099-01-01T00:00:00Z")
        started = await station.call(
            call.StartTransaction(connector_id=1, id_tag="TAG-2", meter_start=1000, timestamp=STAMP)
        )
        reading = [{"timestamp": STAMP, "sampled_value": [{"value": "1500"}]}]
        await station.call(
            call.MeterValues(
                connector_id=1, transaction_id=started.transaction_id, meter_value=reading
            )
        )
        stop = call.StopTransaction(
            meter_stop=4000,
            timestamp="2026-03-01T11:00:00Z",
            transaction_id=started.transaction_id,
            id_tag="TAG-2",
            reason="Local",
        )
        first = await station.call(stop)
        await api.put("/api/id-tags/TAG-2", json={"status": "Blocked"})
        again = await station.call(stop)
        assert again.id_tag_info == first.id_tag_info
        assert first.id_tag_info["status"] == "Accepted"

        async def stopped() -> Any:
            found = (await api.get("/api/transactions", params={"station": "CP-M"})).json()
            return found[0] if found and found[0]["status"] == "stopped" else None

        session = await eventually(stopped)
        assert (session["energy_wh"], session["meter_value_count"]) == (3000, 1)
        assert session["stop_reason"] == "Local"


async def test_a_stop_for_a_transaction_never_started_is_still_answered(node: ServedNode) -> None:
    async with connected_station(node, "CP-U") as station:
        await station.boot()
        answer = await station.call(
            call.StopTransaction(meter_stop=1, timestamp=STAMP, transaction_id=987654)
        )
        assert answer.id_tag_info is None


async def test_a_session_on_a_connector_held_by_an_accepted_remote_start_is_linked(
    node: ServedNode,
) -> None:
    async with connected_station(node, "CP-L") as station, node.client() as api:
        await station.boot()
        await add_tag(api, "APP-1")
        posted = await api.post(
            "/api/stations/CP-L/commands/remote-start",
            json={"connector_id": 1, "id_tag": "APP-1"},
            headers={"Idempotency-Key": "rs-link"},
        )
        assert posted.status_code == 202

        async def accepted() -> Any:
            return (await api.get("/api/commands/rs-link")).json().get("status") == "accepted"

        await eventually(accepted)
        await station.call(
            call.StartTransaction(connector_id=1, id_tag="APP-1", meter_start=0, timestamp=STAMP)
        )
        (session,) = await sessions_of(api, "CP-L", 1)
        assert session["remote_start_command_id"] == "rs-link"
        refused = await api.post(
            "/api/stations/CP-L/commands/remote-start",
            json={"connector_id": 1, "id_tag": "SOMEONE-ELSE"},
        )
        assert refused.status_code == 409
        assert refused.json()["error"] == "ConnectorNotAvailable"
        assert "charging" in refused.json()["detail"]


async def test_the_id_tag_registry_over_http(node: ServedNode) -> None:
    async with node.client() as api:
        created = await api.put(
            "/api/id-tags/TAG-9", json={"status": "Accepted", "expiry": "2030-01-01T01:00:00+01:00"}
        )
        assert created.json() == {
            "id_tag": "TAG-9",
            "status": "Accepted",
            "expiry": "2030-01-01T00:00:00Z",
        }
        assert [t["id_tag"] for t in (await api.get("/api/id-tags")).json()] == ["TAG-9"]
        bad = await api.put("/api/id-tags/TAG-9", json={"status": "Maybe"})
        assert bad.status_code == 422
        assert "status" in bad.json()["detail"]
        too_long = await api.put("/api/id-tags/" + "X" * 21, json={"status": "Accepted"})
        assert too_long.status_code == 422
        assert (await api.delete("/api/id-tags/TAG-9")).status_code == 204
        assert (await api.delete("/api/id-tags/TAG-9")).status_code == 404
        assert (await api.get("/api/id-tags")).json() == []
