"""A command posted to a node that does not hold its station is handed to the holder
at its commit (a NOTIFY carrying the command), not when the holder's log follower
reaches it: that follower waits for every older transaction on the server to end,
so one slow transaction held routed commands back (docs/benchmarks.md, cluster)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import psycopg

from tests.e2e.cluster_support import FAST, Fleet, read_log, start_cluster, station_on
from tests.e2e.conftest import eventually


async def test_a_routed_command_reaches_its_station_while_an_older_transaction_is_open(
    tmp_path: Path, postgres_dsn: str
) -> None:
    nodes = start_cluster(tmp_path, postgres_dsn, 2, *FAST)
    holder, other = nodes
    fleet = Fleet()
    try:
        async with station_on(holder.ocpp_url, "ROUTED-1", fleet):
            async with await psycopg.AsyncConnection.connect(postgres_dsn) as slow:
                # An open transaction with an id: the log's visible bound stops below it.
                await slow.execute("CREATE TEMPORARY TABLE slow (n int)")
                await slow.execute("INSERT INTO slow VALUES (1)")
                posted = time.monotonic()
                async with other.client() as api:
                    response = await api.post(
                        "/api/stations/ROUTED-1/commands/remote-start",
                        json={"connector_id": 1, "id_tag": "ROUTED"},
                        headers={"Idempotency-Key": "routed-1"},
                    )
                assert response.status_code == 202, response.text

                async def called() -> bool:
                    return fleet.received()["ROUTED"] > 0

                await eventually(called, timeout=10)
                took = time.monotonic() - posted
                await slow.rollback()
            async with other.client() as api:

                async def ended() -> bool:
                    view = (await api.get("/api/commands/routed-1")).json()
                    return bool(view.get("status") == "accepted")

                await eventually(ended, timeout=20, interval=0.2)
    finally:
        for node in nodes:
            with contextlib.suppress(Exception):
                node.stop()
    assert took < 10
    dispatches, terminals, _ = await read_log(postgres_dsn)
    assert dispatches["routed-1"] == terminals["routed-1"] == 1
    assert fleet.received() == {"ROUTED": 1}
