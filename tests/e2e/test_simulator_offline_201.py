"""The OCPP 2.0.1 simulator keeps its sessions across a lost network: the
TransactionEvents taken while it is down wait, marked ``offline``, and reach the CSMS
in order with their ``seqNo`` once it is back; each transaction is one session with
all its meter values (I7)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from chargeledger.simulator.charger import PROTOCOL_201, Charger
from chargeledger.simulator.charger_parts import Behaviour
from chargeledger.simulator.fleet import StationRun, run_station
from chargeledger.simulator.transactions201 import Transactions201
from tests.e2e.conftest import ServedNode, eventually

DRIVER = {"id_token": "DRIVER", "type": "ISO14443"}


def _behaviour() -> Behaviour:
    return Behaviour(
        connectors=2,
        charge_seconds=None,
        meter_interval_s=0.1,
        power_w=400_000,
        reconnect_base_s=0.1,
        reconnect_cap_s=0.5,
        response_timeout_s=5.0,
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _queued_events(charger: Charger) -> list[dict[str, Any]]:
    return [m.payload for m in charger.outbox._messages if m.action == "TransactionEvent"]


async def _sessions(node: ServedNode, station: str) -> list[dict[str, Any]]:
    async with node.client() as api:
        found: list[dict[str, Any]] = (
            await api.get("/api/transactions", params={"station": station})
        ).json()
    return sorted(found, key=lambda s: s["transaction_id"])


async def test_transaction_events_taken_offline_reach_the_csms_in_order_marked_offline(
    node: ServedNode,
) -> None:
    charger = Charger("OFF201-1", _behaviour(), protocol=PROTOCOL_201)
    transactions = charger.transactions201
    assert isinstance(transactions, Transactions201)
    run = StationRun("OFF201-1", charger=charger, protocol=PROTOCOL_201)
    stop = asyncio.Event()
    task = asyncio.create_task(run_station(node.ocpp_url, run, stop, 5.0))
    try:
        async with node.client() as api:
            assert (await api.put("/api/id-tags/DRIVER", json={"status": "Accepted"})).is_success

        async def connected() -> bool:
            return run.connected

        await eventually(connected)
        first_id = transactions.start(1, DRIVER, "Authorized")

        async def metering() -> Any:
            sessions = await _sessions(node, "OFF201-1")
            return sessions if sessions and sessions[0]["meter_value_count"] >= 2 else None

        (before,) = await eventually(metering)
        assert before["station_transaction_id"] == first_id
        charger.go_offline(1.5)
        await asyncio.sleep(0.3)
        assert not run.connected
        second_id = transactions.start(2, DRIVER, "Authorized")  # the local list's say
        await asyncio.sleep(0.3)
        assert transactions.stop(1, "EVDisconnected", "EVCommunicationLost")
        await asyncio.sleep(0.3)
        assert transactions.stop(2, "Local", "StopAuthorized")

        queued = _queued_events(charger)
        # What was taken before the drop (in flight, unanswered) goes again as it was;
        # everything after is marked offline.
        taken_online = [e for e in queued if not e.get("offline")]
        assert len(taken_online) <= 2 and queued[: len(taken_online)] == taken_online
        assert all(e["transaction_info"]["transaction_id"] == first_id for e in taken_online)
        by_transaction: dict[str, list[dict[str, Any]]] = {}
        for event in queued:
            by_transaction.setdefault(event["transaction_info"]["transaction_id"], []).append(event)
        first_events, second_events = by_transaction[first_id], by_transaction[second_id]
        assert first_events[-1]["event_type"] == "Ended"
        assert (second_events[0]["event_type"], second_events[-1]["event_type"]) == (
            "Started",
            "Ended",
        )
        assert len(second_events) >= 3  # Started, Updated…, Ended
        assert all(e["offline"] is True for e in second_events)
        for events in (first_events, second_events):
            seq_nos = [e["seq_no"] for e in events]
            assert seq_nos == list(range(seq_nos[0], seq_nos[0] + len(seq_nos)))
        assert second_events[0]["seq_no"] == 0
        first_ended, second_started = first_events[-1], second_events[0]

        async def delivered() -> Any:
            sessions = await _sessions(node, "OFF201-1")
            done = len(sessions) == 2 and all(s["status"] == "stopped" for s in sessions)
            return sessions if done and not charger.outbox.durable_count else None

        first, second = await eventually(delivered, timeout=15)
        assert run.connected and run.connections == 2
        # One transaction each, holding every event's meter value (one per event).
        assert first["transaction_id"] == before["transaction_id"]
        assert first["station_transaction_id"] == first_id
        assert first["meter_value_count"] == first_ended["seq_no"] + 1
        assert first["stop_reason"] == "EVDisconnected"
        reading = first_ended["meter_value"][0]["sampled_value"][0]["value"]
        assert first["meter_stop"] == reading
        assert second["station_transaction_id"] == second_id
        assert second["connector_id"] == 2
        assert second["meter_value_count"] == len(second_events)
        assert second["stop_reason"] == "Local"
        assert _time(second["started_at"]) == _time(second_started["timestamp"])
        assert second["energy_wh"] > 0
        async with node.client() as api:
            history = (await api.get("/api/stations/OFF201-1/events")).json()
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
