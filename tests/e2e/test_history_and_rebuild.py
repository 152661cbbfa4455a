"""The log as the source of truth: a station's past replayed, the log streamed live,
and every read model rebuilt from it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.e2e.conftest import TOKEN, connected_station, eventually, start_node


async def test_the_past_the_live_stream_and_a_rebuild_agree_with_the_log(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        async with connected_station(node, "HIS-1") as station, node.client() as api:
            await station.boot()
            before_command = datetime.now(UTC).isoformat()
            posted = await api.post(
                "/api/stations/HIS-1/commands/reset",
                json={"type": "Soft"},
                headers={"Idempotency-Key": "his-reset"},
            )
            assert posted.status_code == 202

            async def ended() -> Any:
                view = (await api.get("/api/commands/his-reset")).json()
                return view if view.get("status") in ("accepted", "rejected", "failed") else None

            final = await eventually(ended)

            past = (await api.get("/api/stations/HIS-1", params={"at": before_command})).json()
            assert past["registration"] == "Accepted"
            assert past["version"] == 1 and past["open_commands"] == []
            now = (
                await api.get("/api/stations/HIS-1", params={"at": datetime.now(UTC).isoformat()})
            ).json()
            assert now["version"] == (await api.get("/api/stations/HIS-1")).json()["version"]
            naive = await api.get("/api/stations/HIS-1", params={"at": "2026-01-01T00:00:00"})
            assert naive.status_code == 422

            types = []
            async with api.stream(
                "GET", "/api/events/stream", params={"after": 0, "token": TOKEN}, headers={}
            ) as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        types.append(line.removeprefix("event: "))
                    if len(types) == 4:
                        break
            assert types[:2] == ["StationBooted", "ResetRequested"]

            missing = await api.get("/api/no-such-thing")
            assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
        node.stop()
        # Spoil the read model behind the node's back: only a real replay mends it.
        database = sqlite3.connect(node.store.removeprefix("sqlite:///"))
        with database:
            spoiled = database.execute(
                'UPDATE documents SET doc = \'{"status": "spoiled"}\' '
                "WHERE model = 'command' AND key = 'his-reset'"
            ).rowcount
        assert spoiled == 1

        rebuilt = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "chargeledger.entrypoints.cli",
                "projections",
                "rebuild",
                "--store",
                node.store,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "read models rebuilt" in rebuilt.stdout
        with database:
            (doc,) = database.execute(
                "SELECT doc FROM documents WHERE model = 'command' AND key = 'his-reset'"
            ).fetchone()
            (checkpoint,) = database.execute(
                "SELECT position FROM checkpoints WHERE name = 'views'"
            ).fetchone()
        database.close()
        assert json.loads(doc)["status"] == final["status"]
        assert checkpoint > 0

        node = start_node(tmp_path, store=node.store)
        async with node.client() as api:
            again = (await api.get("/api/commands/his-reset")).json()
            assert json.dumps(again, sort_keys=True) == json.dumps(final, sort_keys=True)
    finally:
        node.stop()
