"""Issue 11, end to end: sessions as the field's stations run them, against a served
node, with stations made from the ``ocpp`` package's ``ChargePoint``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from tests.e2e.conftest import (
    ServedNode,
    Station,
    connected_station,
    eventually,
    start_node,
)

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
        assert stopped["anomalies"] == [stopped["energy_anomaly"]]
        assert stopped["stop_reason"] == "Local"  # no reason sent: OCPP 1.6 §6.49


class RebootedStation(Station):
    """A station that lost its session in a reboot: it rejects a remote stop of it."""

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, **payload: Any) -> Any:
        self.received.append(("RemoteStopTransaction", payload))
        return call_result.RemoteStopTransaction(status="Rejected")


async def status(station: Station, connector: int, value: str) -> None:
    await station.call(
        call.StatusNotification(connector_id=connector, error_code="NoError", status=value)
    )


async def command(api: Any, key: str, final: bool = True) -> dict[str, Any]:
    async def ended() -> Any:
        view = (await api.get(f"/api/commands/{key}")).json()
        return view if view.get("status") not in (None, "requested", "dispatched") else None

    result: dict[str, Any] = await eventually(ended)
    return result


async def test_a_station_killed_mid_session_and_rebooted_takes_a_remote_start_again(
    node: ServedNode,
) -> None:
    async with node.client() as api:
        await add_tag(api, "TAG-K")
        await add_tag(api, "TAG-NEXT")
        async with connected_station(node, "CP-KILL") as station:
            await station.boot()
            await status(station, 1, "Preparing")
            started = await station.call(
                call.StartTransaction(
                    connector_id=1, id_tag="TAG-K", meter_start=10, timestamp=STAMP
                )
            )
            await status(station, 1, "Charging")
        # killed: no StopTransaction; it comes back, boots, reports the connector free
        async with connected_station(node, "CP-KILL", RebootedStation) as station:
            await station.boot()
            await status(station, 1, "Available")
            stop = await api.post(
                "/api/stations/CP-KILL/commands/remote-stop",
                json={"transaction_id": started.transaction_id},
                headers={"Idempotency-Key": "stop-lost"},
            )
            assert stop.status_code == 202, stop.text
            rejected = await command(api, "stop-lost")
            assert rejected["status"] == "rejected"
            assert "no such transaction" in rejected["detail"]
            assert f"/api/transactions/{started.transaction_id}/close" in rejected["detail"]

            again = await api.post(
                "/api/stations/CP-KILL/commands/remote-start",
                json={"connector_id": 1, "id_tag": "TAG-NEXT"},
                headers={"Idempotency-Key": "start-after-reboot"},
            )
            assert again.status_code == 202, again.text

            async def unconfirmed() -> Any:
                still_open = await session(api, started.transaction_id, "open")  # CONTRACT.md
                return still_open if still_open["unconfirmed"] else None

            lost = await eventually(unconfirmed)
            assert "rebooted" in lost["unconfirmed_reason"]

            closed = await api.post(
                f"/api/transactions/{started.transaction_id}/close",
                json={"reason": "station lost it in a reboot"},
            )
            assert closed.status_code == 200, closed.text
            assert closed.json()["status"] == "closed"
            assert closed.json()["close_reason"] == "station lost it in a reboot"
            twice = await api.post(
                f"/api/transactions/{started.transaction_id}/close", json={"reason": "again"}
            )
            assert twice.status_code == 409
            assert twice.json()["error"] == "TransactionNotFound"
            no_reason = await api.post(f"/api/transactions/{started.transaction_id}/close", json={})
            assert no_reason.status_code == 422
            events = (await api.get("/api/stations/CP-KILL/events")).json()
            assert "TransactionClosed" in [event["type"] for event in events]


async def test_a_remote_start_hold_ends_when_the_station_gives_up_waiting_for_a_cable(
    node: ServedNode,
) -> None:
    async with connected_station(node, "CP-HOLD") as station, node.client() as api:
        await station.boot()
        await add_tag(api, "TAG-A")
        await add_tag(api, "TAG-B")
        await status(station, 1, "Available")
        first = await api.post(
            "/api/stations/CP-HOLD/commands/remote-start",
            json={"connector_id": 1, "id_tag": "TAG-A"},
            headers={"Idempotency-Key": "hold-a"},
        )
        assert first.status_code == 202
        assert (await command(api, "hold-a"))["status"] == "accepted"
        await status(station, 1, "Preparing")
        held = await api.post(
            "/api/stations/CP-HOLD/commands/remote-start",
            json={"connector_id": 1, "id_tag": "TAG-B"},
        )
        assert held.status_code == 409
        assert "held by remote start hold-a" in held.json()["detail"]
        await status(station, 1, "Available")  # its ConnectionTimeOut ran out: no cable
        freed = await api.post(
            "/api/stations/CP-HOLD/commands/remote-start",
            json={"connector_id": 1, "id_tag": "TAG-B"},
            headers={"Idempotency-Key": "hold-b"},
        )
        assert freed.status_code == 202, freed.text


async def test_a_remote_start_for_a_tag_the_registry_refuses_is_a_409_unless_forced(
    tmp_path: Path,
) -> None:
    node = start_node(tmp_path, "--remote-start-unknown-tags", "refuse")
    try:
        async with connected_station(node, "CP-TAGS") as station, node.client() as api:
            await station.boot()
            await add_tag(api, "LOST", status="Blocked")
            await add_tag(api, "NOPE", status="Invalid")  # any OCPP status may be stored
            for tag, status_ in (("LOST", "Blocked"), ("NOPE", "Invalid"), ("NOBODY", "Invalid")):
                refused = await api.post(
                    "/api/stations/CP-TAGS/commands/remote-start",
                    json={"connector_id": 1, "id_tag": tag},
                )
                assert refused.status_code == 409, refused.text
                assert refused.json()["error"] == "IdTagNotAccepted"
                assert status_ in refused.json()["detail"]
            assert station.received == []  # nothing was sent
            forced = await api.post(
                "/api/stations/CP-TAGS/commands/remote-start",
                json={"connector_id": 1, "id_tag": "LOST", "force": True},
            )
            assert forced.status_code == 202, forced.text
    finally:
        node.stop()


class OfflineStartedStation(Station):
    """A station that started a session while offline and has not uploaded its
    StartTransaction yet: it stops what it runs and rejects a stop of anything else."""

    running = {9001}

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int, **payload: Any) -> Any:
        self.received.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        runs = transaction_id in self.running
        return call_result.RemoteStopTransaction(status="Accepted" if runs else "Rejected")


async def test_a_remote_stop_the_csms_never_heard_of_is_sent_and_the_station_answers(
    node: ServedNode,
) -> None:
    async with node.client() as api:
        await add_tag(api, "TAG-S")
        async with connected_station(node, "CP-ELSE") as elsewhere:
            await elsewhere.boot()
            other = await elsewhere.call(
                call.StartTransaction(
                    connector_id=1, id_tag="TAG-S", meter_start=0, timestamp=STAMP
                )
            )
        async with connected_station(node, "CP-OFFLINE", OfflineStartedStation) as station:
            await station.boot()
            url = "/api/stations/CP-OFFLINE/commands/remote-stop"
            sent = await api.post(
                url, json={"transaction_id": 9001}, headers={"Idempotency-Key": "stop-offline"}
            )
            assert sent.status_code == 202, sent.text
            assert (await command(api, "stop-offline"))["status"] == "accepted"

            unknown = await api.post(
                url, json={"transaction_id": 9002}, headers={"Idempotency-Key": "stop-none"}
            )
            assert unknown.status_code == 202, unknown.text
            rejected = await command(api, "stop-none")
            assert (rejected["status"], rejected["result"]) == ("rejected", {"status": "Rejected"})
            assert "the station has no transaction 9002" in rejected["detail"]
            assert station.received == [
                ("RemoteStopTransaction", {"transaction_id": 9001}),
                ("RemoteStopTransaction", {"transaction_id": 9002}),
            ]

            started = await station.call(
                call.StartTransaction(
                    connector_id=1, id_tag="TAG-S", meter_start=5, timestamp=STAMP
                )
            )
            await station.call(
                call.StopTransaction(
                    meter_stop=50,
                    timestamp=LATER,
                    transaction_id=started.transaction_id,
                    reason="EVDisconnected",
                )
            )
            ended = await api.post(url, json={"transaction_id": started.transaction_id})
            assert ended.status_code == 409, ended.text
            assert ended.json()["error"] == "TransactionNotFound"
            assert "stopped since 2026-03-01T11:00:00" in ended.json()["detail"]
            assert "EVDisconnected" in ended.json()["detail"]

            await session(api, other.transaction_id, "open")
            foreign = await api.post(url, json={"transaction_id": other.transaction_id})
            assert foreign.status_code == 409, foreign.text
            assert "runs on station CP-ELSE" in foreign.json()["detail"]

            malformed = await api.post(url, json={"transaction_id": "seven"})
            assert malformed.status_code == 422
            assert len(station.received) == 2  # nothing refused up front was sent
