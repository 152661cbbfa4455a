"""Issue 10 end to end: what a hostile station or client can send a served node, and
what a node finds in its store at start. Each of these broke main at a1fe569."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import websockets
from ocpp.v16 import call
from websockets.typing import Subprotocol

from tests.e2e.conftest import ServedNode, connected_station, eventually, start_node

OCPP16 = [Subprotocol("ocpp1.6")]


async def exchange(ws: Any, text: str, timeout: float = 5.0) -> list[Any]:
    await ws.send(text)
    answer = await asyncio.wait_for(ws.recv(), timeout)
    return list(json.loads(answer))


def status(connector: str, extra: str = "") -> str:
    return (
        f'[2,"s1","StatusNotification",{{"connectorId":{connector},'
        f'"errorCode":"NoError","status":"Available"{extra}}}]'
    )


async def test_a_float_connector_id_is_refused_and_the_node_restarts(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        async with websockets.connect(f"{node.ocpp_url}/FLOAT-1", subprotocols=OCPP16) as ws:
            for connector in ("1.0", "2e0", "0.0", "1e308"):
                answer = await exchange(ws, status(connector))
                assert answer[:3] == [4, "s1", "TypeConstraintViolation"], answer
            assert (await exchange(ws, status("1")))[:2] == [3, "s1"]
        async with node.client() as client:
            station = (await client.get("/api/stations/FLOAT-1")).json()
        assert [c["id"] for c in station["connectors"]] == [1]
    finally:
        node.stop()
    again = start_node(tmp_path, store=node.store)  # starts: nothing of the floats was kept
    again.stop()


def _write_documents(store: str, rows: list[tuple[str, str, str]]) -> None:
    database = sqlite3.connect(store.removeprefix("sqlite:///"))
    with database:
        for model, key, doc in rows:
            database.execute(
                "INSERT INTO documents (model, key, doc) VALUES (?, ?, ?) "
                "ON CONFLICT (model, key) DO UPDATE SET doc = excluded.doc",
                (model, key, doc),
            )
    database.close()


def _connector(status: str = "Available") -> dict[str, Any]:
    return {
        "status": status,
        "error_code": "NoError",
        "info": None,
        "vendor_error_code": None,
        "timestamp": None,
    }


async def test_hostile_documents_in_the_store_never_stop_a_start(tmp_path: Path) -> None:
    first = start_node(tmp_path)  # makes the schema; one good station
    first.stop()
    good = {"station_id": "GOOD-1", "connected": True, "connectors": {"1": _connector("Faulted")}}
    _write_documents(
        first.store,
        [
            ("twin", "GOOD-1", json.dumps(good)),
            (
                "twin",
                "FLOAT",
                json.dumps({"station_id": "FLOAT", "connectors": {"1.0": _connector()}}),
            ),
            ("twin", "SHAPE", json.dumps({"station_id": "SHAPE", "connectors": [1, 2]})),
            ("twin", "TYPES", json.dumps({"station_id": 7, "connection_epoch": "x"})),
            ("twin", "NOTJSON", "{not json"),
            ("twin", "LIST", "[1, 2]"),
            ("command", "BAD", json.dumps({"command_id": "BAD", "expires_at": "never"})),
            ("reservation_live", "9", json.dumps({"reservation_id": "x"})),
        ],
    )
    node: ServedNode = start_node(tmp_path, store=first.store)
    try:
        async with node.client() as client:
            health = (await client.get("/healthz")).json()
            station = (await client.get("/api/stations/GOOD-1")).json()
        quarantined = {(d["model"], d["key"]) for d in health["quarantined"]["documents"]}
        assert {
            ("twin", "FLOAT"),
            ("twin", "SHAPE"),
            ("twin", "NOTJSON"),
            ("twin", "LIST"),
        } <= quarantined
        assert health["quarantined"]["count"] >= 5
        assert [(c["id"], c["status"]) for c in station["connectors"]] == [
            (1, "Faulted")
        ]  # what could be loaded was
        assert "quarantined twin document" in node.log()
    finally:
        node.stop()


async def test_a_lone_surrogate_is_refused_and_poisons_nothing(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        async with (
            websockets.connect(f"{node.ocpp_url}/POISON-1", subprotocols=OCPP16) as bad,
            websockets.connect(f"{node.ocpp_url}/FAULT-1", subprotocols=OCPP16) as good,
        ):
            for frame in (
                status("1", r',"info":"\ud800"'),
                r'[2,"s1","DataTransfer",{"vendorId":"v","data":"\udfff"}]',
            ):
                answer = await exchange(bad, frame)
                assert answer[:3] == [4, "s1", "FormationViolation"], answer
            answer = await exchange(bad, r'[2,"\ud800","Heartbeat",{}]')  # the id itself
            assert answer[:3] == [4, "\ud800", "FormationViolation"], answer
            faulted = status("1").replace("Available", "Faulted")
            assert (await exchange(good, faulted))[:2] == [3, "s1"]
            await asyncio.sleep(1.2)  # two twin flushes
        async with node.client() as client:
            assert (await client.get("/api/stations/POISON-1")).status_code in (200, 404)
    finally:
        node.stop()
    again = start_node(tmp_path, store=node.store)
    try:
        async with again.client() as client:
            view = (await client.get("/api/stations/FAULT-1")).json()
        assert [(c["id"], c["status"]) for c in view["connectors"]] == [(1, "Faulted")]
        assert "Traceback" not in node.log() + again.log()
    finally:
        again.stop()


async def test_a_stop_whose_readings_are_no_numbers_still_ends_the_session(
    tmp_path: Path,
) -> None:
    """Item 8: "NaN", "Infinity" or "1e400" in a StopTransaction's transactionData (valid
    OCPP: a sampled value is a string) failed the stop with InternalError, every time
    the station sent it again: the session never ended."""
    stamp = "2026-03-01T10:00:00Z"
    node = start_node(tmp_path)
    try:
        async with connected_station(node, "NAN-1") as station, node.client() as api:
            await station.boot()
            assert (await api.put("/api/id-tags/TAG-N", json={})).status_code == 200
            started = await station.call(
                call.StartTransaction(
                    connector_id=1, id_tag="TAG-N", meter_start=100, timestamp=stamp
                )
            )
            hostile = [{"value": text} for text in ("NaN", "Infinity", "-inf", "1e400")]
            stopped = await station.call(
                call.StopTransaction(
                    meter_stop=250,
                    timestamp=stamp,
                    transaction_id=started.transaction_id,
                    transaction_data=[{"timestamp": stamp, "sampled_value": hostile}],
                )
            )
            assert stopped is not None  # a CALLRESULT (a CALLERROR is None here)

            async def ended() -> Any:
                view = (await api.get(f"/api/transactions/{started.transaction_id}")).json()
                return view if view["status"] == "stopped" else None

            view = await eventually(ended)
            assert view["energy_wh"] == 150
        assert "Traceback" not in node.log()
    finally:
        node.stop()
