"""Station commands end in exactly one terminal outcome and are sent at most once per
recorded dispatch: offline stations, silent ones, CALLERRORs, dropped connections,
takeovers (I3, I4)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ocpp.exceptions import NotSupportedError
from ocpp.routing import on
from ocpp.v16.enums import Action

from tests.e2e.conftest import ServedNode, Station, connected_station, eventually, start_node


async def command_status(node: ServedNode, command_id: str, status: str) -> dict[str, Any]:
    async with node.client() as api:

        async def reached() -> dict[str, Any] | None:
            response = await api.get(f"/api/commands/{command_id}")
            view = response.json() if response.status_code == 200 else {}
            return view if view.get("status") == status else None

        result: dict[str, Any] = await eventually(reached, timeout=15)
        return result


async def remote_start(node: ServedNode, station_id: str, key: str, **body: Any) -> None:
    async with node.client() as api:
        response = await api.post(
            f"/api/stations/{station_id}/commands/remote-start",
            json={"connector_id": 1, "id_tag": "TAG-1", **body},
            headers={"Idempotency-Key": key},
        )
        assert response.status_code == 202, response.text


async def test_a_command_for_a_station_that_never_comes_back_expires(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        async with connected_station(node, "OFF-1") as station:
            await station.boot()
        await remote_start(node, "OFF-1", "exp-1", ttl_s=1)
        view = await command_status(node, "exp-1", "expired")
        assert "time to live" in view["detail"]
    finally:
        node.stop()


async def test_a_station_that_never_answers_times_the_command_out(tmp_path: Path) -> None:
    node = start_node(tmp_path, "--response-timeout", "1")
    try:
        async with connected_station(node, "MUTE-1") as station:
            station.answer_delay_s = 5
            await station.boot()
            await remote_start(node, "MUTE-1", "mute-1")
            await command_status(node, "mute-1", "timed_out")
            assert len(station.received) == 1
    finally:
        node.stop()


class RefusingStation(Station):
    @on(Action.remote_start_transaction)
    async def on_remote_start(self, **payload: Any) -> Any:
        self.received.append(("RemoteStartTransaction", payload))
        raise NotSupportedError("no remote start on this model")


async def test_a_callerror_answer_fails_the_command_with_its_code(node: ServedNode) -> None:
    async with connected_station(node, "ERR-1", RefusingStation) as station:
        await station.boot()
        await remote_start(node, "ERR-1", "err-1")
        view = await command_status(node, "err-1", "failed")
        assert "no remote start" in view["detail"]


class VanishingStation(Station):
    """Takes the CALL and drops the connection without answering."""

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, **payload: Any) -> Any:
        self.received.append(("RemoteStartTransaction", payload))
        await self._connection.close()
        await asyncio.sleep(60)


async def test_a_station_that_drops_mid_call_is_reconciled_not_resent(tmp_path: Path) -> None:
    """I4: a CALL in doubt is reconciled, not re-sent: sent once, ended once."""
    node = start_node(tmp_path, "--reconcile-grace", "0.5")
    try:
        async with connected_station(node, "GONE-1", VanishingStation) as first:
            await first.boot()
            await remote_start(node, "GONE-1", "gone-1")
            await eventually(lambda: _true_when(first.received))
        await command_status(node, "gone-1", "dispatched")
        async with connected_station(node, "GONE-1") as second:
            await second.boot()
            view = await command_status(node, "gone-1", "failed")
            assert "in doubt" in view["detail"]
            assert second.received == []  # never sent twice
    finally:
        node.stop()


async def test_a_takeover_during_a_pending_call_reconciles_instead_of_doubling(
    tmp_path: Path,
) -> None:
    """I4, I8: a takeover mid-CALL: the call is not doubled on the newer connection."""
    node = start_node(tmp_path, "--reconcile-grace", "0.5", "--response-timeout", "20")
    try:
        async with connected_station(node, "TAKE-1") as old:
            old.answer_delay_s = 30
            await old.boot()
            await remote_start(node, "TAKE-1", "take-1")
            await eventually(lambda: _true_when(old.received))
            async with connected_station(node, "TAKE-1") as new:
                await new.boot()
                view = await command_status(node, "take-1", "failed")
                assert "in doubt" in view["detail"]
                assert new.received == []
                assert len(old.received) == 1
    finally:
        node.stop()


async def _true_when(value: Any) -> Any:
    return value


async def test_a_remote_start_in_doubt_that_took_effect_is_reconciled_accepted(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from ocpp.v16 import call

    node = start_node(tmp_path, "--reconcile-grace", "1.5")
    try:
        async with connected_station(node, "GONE-2", VanishingStation) as first:
            await first.boot()
            await remote_start(node, "GONE-2", "gone-2", id_tag="DRIVER-7")
            await eventually(lambda: _true_when(first.received))
        async with connected_station(node, "GONE-2") as second:
            await second.boot()
            # The station did start charging while we could not hear it; it reports now.
            started = await second.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="DRIVER-7",
                    meter_start=100,
                    timestamp=datetime.now(UTC).isoformat(),
                )
            )
            view = await command_status(node, "gone-2", "accepted")
            assert view["detail"].startswith("reconciled")
            assert f"transaction {started.transaction_id}" in view["detail"]
            assert second.received == []
    finally:
        node.stop()


async def test_a_station_that_reconnects_without_booting_still_gets_its_commands(
    node: ServedNode,
) -> None:
    from ocpp.v16 import call

    async with connected_station(node, "BACK-1") as station:
        await station.boot()
    async with connected_station(node, "BACK-1") as station:
        await station.call(call.Heartbeat())  # a network blip: no BootNotification
        await remote_start(node, "BACK-1", "back-1")
        await command_status(node, "back-1", "accepted")
        assert len(station.received) == 1


async def test_an_idempotency_key_cannot_take_an_id_the_csms_uses_itself(
    node: ServedNode,
) -> None:
    async with connected_station(node, "KEY-1") as station, node.client() as api:
        await station.boot()
        response = await api.post(
            "/api/stations/KEY-1/commands/remote-start",
            json={"connector_id": 1, "id_tag": "T"},
            headers={"Idempotency-Key": "x/dispatch/1"},
        )
        assert response.status_code == 422
        assert "idempotency-key" in response.json()["detail"].lower()


async def test_one_idempotency_key_names_one_command_across_stations(node: ServedNode) -> None:
    async with node.client() as api:
        for station_id in ("KA", "KB"):
            async with connected_station(node, station_id) as station:
                await station.boot()
        first = await api.post(
            "/api/stations/KA/commands/reset",
            json={"type": "Soft"},
            headers={"Idempotency-Key": "k-1"},
        )
        assert first.status_code == 202
        await command_status(node, "k-1", "requested")
        second = await api.post(
            "/api/stations/KB/commands/reset",
            json={"type": "Soft"},
            headers={"Idempotency-Key": "k-1"},
        )
        assert second.status_code == 409
        assert second.json()["error"] == "IdempotencyKeyInUse"


async def test_a_read_past_the_log_waits_then_says_it_is_not_caught_up(tmp_path: Path) -> None:
    """I9: a read with a position token reflects it, or answers 503 NotCaughtUp after a bounded
    wait."""
    node = start_node(tmp_path, "--read-wait", "0.3")
    try:
        async with node.client() as api:
            response = await api.get("/api/stations?min_position=1000000")
            assert response.status_code == 503
            assert response.json()["error"] == "NotCaughtUp"
            async with connected_station(node, "RYW-1") as station:
                await station.boot()
            command = await api.post("/api/stations/RYW-1/commands/reset", json={"type": "Hard"})
            position = command.json()["position"]
            read = await api.get(
                f"/api/commands/{command.json()['command_id']}?min_position={position}"
            )
            assert read.status_code == 200
            assert read.json()["position"] >= position
    finally:
        node.stop()
