"""Issue 11, end to end: commands and the API as an integrator drives them: every
Idempotency-Key reads back, a key reused with another body is refused, a command
is readable right after its 202, and the command view says why it failed."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from tests.e2e.conftest import ServedNode, Station, connected_station, eventually


class SlowStation(Station):
    """Answers a trigger after a pause, so that requests pile up on one open command."""

    @on(Action.trigger_message)
    async def on_trigger(self, **payload: Any) -> Any:
        await asyncio.sleep(0.5)
        return call_result.TriggerMessage(status="Accepted")


TRIGGER = {"requested_message": "Heartbeat"}


async def test_every_accepted_idempotency_key_reads_back_even_when_merged(
    node: ServedNode,
) -> None:
    """I2: every Idempotency-Key answered 202 has effect once and reads back."""
    async with connected_station(node, "CP-IDEM", SlowStation) as station, node.client() as api:
        await station.boot()
        answers = await asyncio.gather(
            *(
                api.post(
                    "/api/stations/CP-IDEM/commands/trigger-message",
                    json=TRIGGER,
                    headers={"Idempotency-Key": f"k-{n}"},
                )
                for n in range(3)
            )
        )
        assert [a.status_code for a in answers] == [202, 202, 202]
        winner = answers[0].json()["command_id"]
        for n in range(3):
            view = (await api.get(f"/api/commands/k-{n}")).json()  # at once: no 404
            assert view["command_id"] == winner, view
            if f"k-{n}" != winner:
                assert view["requested_as"] == f"k-{n}"
        merged = (await api.get(f"/api/commands/{winner}")).json()
        assert sorted(merged["merged_keys"]) == sorted({"k-0", "k-1", "k-2"} - {winner})


async def test_a_key_reused_with_another_body_is_refused(node: ServedNode) -> None:
    async with connected_station(node, "CP-REUSE") as station, node.client() as api:
        await station.boot()
        first = await api.post(
            "/api/stations/CP-REUSE/commands/reset",
            json={"type": "Soft"},
            headers={"Idempotency-Key": "reuse-1"},
        )
        assert first.status_code == 202
        same = await api.post(
            "/api/stations/CP-REUSE/commands/reset",
            json={"type": "Soft"},
            headers={"Idempotency-Key": "reuse-1"},
        )
        assert (same.status_code, same.json()["command_id"]) == (202, "reuse-1")
        other = await api.post(
            "/api/stations/CP-REUSE/commands/reset",
            json={"type": "Hard"},
            headers={"Idempotency-Key": "reuse-1"},
        )
        assert other.status_code == 409
        assert other.json()["error"] == "IdempotencyKeyReused"
        other_name = await api.post(
            "/api/stations/CP-REUSE/commands/clear-cache",
            json={},
            headers={"Idempotency-Key": "reuse-1"},
        )
        assert other_name.status_code == 409
        assert other_name.json()["error"] == "IdempotencyKeyReused"


async def test_a_non_ascii_idempotency_key_is_kept_as_sent_in_utf_8(node: ServedNode) -> None:
    async with connected_station(node, "CP-UTF8") as station, node.client() as api:
        await station.boot()
        key = "clé-élan-✓"
        posted = await api.post(
            "/api/stations/CP-UTF8/commands/clear-cache",
            json={},
            headers={"Idempotency-Key": key.encode()},
        )
        assert posted.status_code == 202, posted.text
        assert posted.json()["command_id"] == key
        assert (await api.get(f"/api/commands/{key}")).json()["command_id"] == key
        not_utf8 = await api.post(
            "/api/stations/CP-UTF8/commands/clear-cache",
            json={},
            headers={"Idempotency-Key": b"caf\xe9"},
        )
        assert not_utf8.status_code == 422
        assert "UTF-8" in not_utf8.json()["detail"]


class RefusingStation(Station):
    """Answers a trigger with a CALLERROR NotImplemented."""

    @on(Action.trigger_message)
    async def on_trigger(self, **payload: Any) -> Any:
        from ocpp.exceptions import NotImplementedError as OcppNotImplemented

        raise OcppNotImplemented(description="no triggers here")


async def test_the_command_view_carries_the_callerror_code_attempts_and_times(
    node: ServedNode,
) -> None:
    async with connected_station(node, "CP-ERR", RefusingStation) as station, node.client() as api:
        await station.boot()
        posted = await api.post(
            "/api/stations/CP-ERR/commands/trigger-message",
            json=TRIGGER,
            headers={"Idempotency-Key": "err-1"},
        )
        assert posted.status_code == 202

        async def failed() -> Any:
            view = (await api.get("/api/commands/err-1")).json()
            return view if view["status"] == "failed" else None

        view = await eventually(failed)
        assert view["error_code"] == "NotImplemented"
        assert view["error_description"] == "no triggers here"
        assert view["attempts"] == 1
        assert view["requested_at"] <= view["dispatched_at"] <= view["answered_at"]
