"""End to end: a 2.0.1 station (the ``ocpp`` package's v201 ``ChargePoint``) replays
transactions it ran while offline, its TransactionEvents marked ``offline: true``; the
log records the flag in the events of the transaction and its view says so (issue 17)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import ServedNode, eventually
from tests.e2e.station201 import connected_201


async def _session(api: Any, station_id: str, station_tx: str, **wanted: Any) -> Any:
    async def found() -> Any:
        listed = (await api.get("/api/transactions", params={"station": station_id})).json()
        for session in listed:
            if session.get("station_transaction_id") == station_tx and all(
                session.get(k) == v for k, v in wanted.items()
            ):
                return session
        return None

    return await eventually(found)


async def _recorded(api: Any, station_id: str, station_tx: str) -> dict[str, bool]:
    """The ``offline`` of each session event of the transaction, by event type."""
    events = (await api.get(f"/api/stations/{station_id}/events")).json()
    return {
        event["type"]: event["data"]["offline"]
        for event in events
        if event["data"].get("station_transaction_id") == station_tx
    }


async def test_a_transaction_replayed_offline_is_recorded_and_shown_as_sent_offline(
    node: ServedNode,
) -> None:
    async with connected_201(node, "OF-1") as station, node.client() as api:
        await station.boot()
        # Run online: nothing sent offline.
        await station.transaction_event("Started", "TX-ON", 0, wh=0, id_token="T")
        await station.transaction_event("Ended", "TX-ON", 1, wh=500)
        online = await _session(api, "OF-1", "TX-ON", status="stopped")
        assert online["offline"] is False
        # Run while the network was down, replayed once it is back, out of order.
        await station.transaction_event("Started", "TX-OFF", 2, wh=1000, offline=True)
        await station.transaction_event("Ended", "TX-OFF", 4, wh=1900, offline=True)
        await station.transaction_event("Updated", "TX-OFF", 3, wh=1500, offline=True)
        replayed = await _session(api, "OF-1", "TX-OFF", status="stopped")
        assert replayed["offline"] is True
        assert (replayed["meter_start"], replayed["meter_stop"]) == (1000, 1900)
        got = await api.get(f"/api/transactions/{replayed['transaction_id']}")
        assert got.json()["offline"] is True
        assert await _recorded(api, "OF-1", "TX-OFF") == {
            "TransactionStarted": True,
            "TransactionStopped": True,
        }
        assert await _recorded(api, "OF-1", "TX-ON") == {
            "TransactionStarted": False,
            "TransactionStopped": False,
        }


async def test_a_transaction_whose_end_or_updates_were_sent_offline_says_so(
    node: ServedNode,
) -> None:
    async with connected_201(node, "OF-2") as station, node.client() as api:
        await station.boot()
        # Lost the network mid-session and came back before its end: only its updates
        # were replayed offline (telemetry: the view still says so).
        await station.transaction_event("Started", "TX-MID", 0, wh=0, id_token="T")
        await station.transaction_event("Updated", "TX-MID", 1, wh=200, offline=True)
        open_session = await _session(api, "OF-2", "TX-MID", offline=True)
        assert open_session["status"] == "open"
        await station.transaction_event("Ended", "TX-MID", 2, wh=400)
        stopped = await _session(api, "OF-2", "TX-MID", status="stopped")
        assert stopped["offline"] is True
        assert await _recorded(api, "OF-2", "TX-MID") == {
            "TransactionStarted": False,
            "TransactionStopped": False,
        }
        # Lost the network before its end: the Ended alone was replayed offline.
        await station.transaction_event("Started", "TX-END", 3, wh=400, id_token="T")
        await station.transaction_event("Ended", "TX-END", 4, wh=600, offline=True)
        ended = await _session(api, "OF-2", "TX-END", status="stopped")
        assert ended["offline"] is True
        assert await _recorded(api, "OF-2", "TX-END") == {
            "TransactionStarted": False,
            "TransactionStopped": True,
        }
