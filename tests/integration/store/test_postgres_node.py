"""A whole node served on PostgreSQL (``chargeledger serve --store postgresql://...``):
a station boots, a remote start reaches it once and ends accepted, and what it
recorded is in the shared database, where a second reader finds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import connected_station, eventually, start_node
from tests.stores import open_test_stores


async def test_a_node_on_postgres_records_and_dispatches_a_remote_start(
    tmp_path: Path, postgres_dsn: str
) -> None:
    node = start_node(tmp_path, store=postgres_dsn)
    try:
        async with connected_station(node, "PG-1") as station, node.client() as api:
            assert (await station.boot()).status == "Accepted"
            body = {"connector_id": 1, "id_tag": "TAG-1"}
            headers = {"Idempotency-Key": "pg-start-1"}
            first = await api.post(
                "/api/stations/PG-1/commands/remote-start", json=body, headers=headers
            )
            again = await api.post(
                "/api/stations/PG-1/commands/remote-start", json=body, headers=headers
            )
            assert (first.status_code, again.status_code) == (202, 202)

            async def ended() -> Any:
                view = (await api.get("/api/commands/pg-start-1")).json()
                return view if view.get("status") == "accepted" else None

            await eventually(ended)
            assert [name for name, _ in station.received] == ["RemoteStartTransaction"]
    finally:
        node.stop()
    assert "Traceback" not in node.log(), node.log()

    store, documents = await open_test_stores(postgres_dsn)
    try:
        names = [type(r.event).__name__ for r in await store.read_stream("station-PG-1")]
        assert names == [
            "StationBooted",
            "RemoteStartRequested",
            "CommandDispatched",
            "CommandAccepted",
        ]
        assert (await documents.get("command", "pg-start-1") or {}).get("status") == "accepted"
    finally:
        await store.close()
