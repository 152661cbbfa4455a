"""Issue 10, restart safety: hostile documents written straight into a node's store (every
read model, the twin, the registry) never stop it from starting, serving stations or
answering its API; it quarantines them and says so on ``/healthz``.

``test_hardening.py`` has the first cases (a few twins); these cover every model, with
the documents an attacker or a broken tool could leave: not JSON, not UTF-8, not an
object, numbers beyond a float, floats for integers, lone surrogates, fields missing or
of another type, and whatever JSON hypothesis draws.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import connected_station, eventually, start_node

MODELS = (
    "station",
    "station_registry",
    "command",
    "transaction",
    "reservation",
    "reservation_live",
    "id_tag",
    "charging_profile",
    "configuration",
    "local_list",
    "station_profiles",
    "twin",
    "meter",
    "quarantine",
    "command_order",
    "named_local_list",
)

HOSTILE: dict[str, bytes] = {
    "not-json": b"{nope",
    "empty-text": b"",
    "a-list": b"[1,2]",
    "a-number": b"5",
    "empty": b"{}",
    "beyond-float": b'{"id":1e400,"station_id":"X","transaction_id":-1e400}',
    "nan": b'{"id":NaN}',
    "floats": b'{"id":"FL","station_id":"FL","transaction_id":1.0,"connector_id":2e0,'
    b'"position":1.5,"status":"open","command_id":"FL","keys":{},"profiles":[]}',
    "surrogate": b'{"id":"\\ud800","station_id":"\\udfff","command_id":"\\ud800",'
    b'"status":"requested","name":"reset","payload":{},"position":1}',
    "surrogate-key": b'{"id":"S","station_id":"S","id_tag":"\\ud800","status":"Accepted",'
    b'"expiry":null}',
    "types": b'{"id":[],"station_id":{},"command_id":null,"status":5,"connectors":"x",'
    b'"expires_at":7,"keys":[],"profile":"x","updated_at":1,"profiles":{},"position":"1"}',
    "bools": b'{"id":true,"station_id":false,"transaction_id":true,"id_tag":false}',
    "not-utf8": b'{"id":"\xed\xa0\x80\xff","station_id":"\xc3"}',
    "deep": b'{"id":' + b"[" * 5000 + b"]" * 5000 + b"}",
    "open-command": b'{"command_id":"OC","station_id":"GOOD-1","status":"requested"}',
}

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["\ud800", "GOOD-1", "requested", "open"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
_fields = st.sampled_from(
    ["id", "station_id", "transaction_id", "command_id", "status", "id_tag", "expiry",
     "keys", "profile", "profiles", "position", "connectors", "name", "payload"]
)  # fmt: skip


def _drawn_documents(count: int) -> list[tuple[str, bytes]]:
    """``count`` objects of the fields the read models use, with values of any JSON."""
    drawn: list[tuple[str, bytes]] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(MODELS), st.dictionaries(_fields, _json_values, max_size=6))
    def draw(model: str, doc: dict[str, Any]) -> None:
        drawn.append((model, json.dumps(doc).encode()))

    draw()
    return drawn


def _write(database_path: str, rows: list[tuple[str, str, bytes, str | None]]) -> None:
    database = sqlite3.connect(database_path)
    with database:
        for model, key, doc, tag in rows:
            # CAST keeps invalid UTF-8 as the TEXT a broken tool would have left.
            database.execute(
                "INSERT INTO documents (model, key, doc, tag) VALUES (?, ?, CAST(? AS TEXT), ?) "
                "ON CONFLICT (model, key) DO UPDATE SET doc = excluded.doc, tag = excluded.tag",
                (model, key, doc, tag),
            )
    database.close()


def _tag(model: str) -> str | None:
    return {"command": "open", "transaction": "GOOD-1", "reservation": "GOOD-1"}.get(model)


async def test_hostile_documents_in_every_read_model_never_stop_a_node(tmp_path: Path) -> None:
    first = start_node(tmp_path)
    try:
        async with connected_station(first, "GOOD-1") as station:
            await station.boot()
        async with first.client() as client:
            queued = await client.post(
                "/api/stations/GOOD-1/commands/remote-start",
                json={"connector_id": 1, "id_tag": "TAG-1", "force": True},
            )
            assert queued.status_code == 202, queued.text
    finally:
        first.stop()

    rows = [
        (model, f"BAD-{name}", doc, _tag(model))
        for model in MODELS
        for name, doc in HOSTILE.items()
    ]
    rows += [
        (model, f"DRAWN-{n}", doc, _tag(model))
        for n, (model, doc) in enumerate(_drawn_documents(150))
    ]
    _write(first.store.removeprefix("sqlite:///"), rows)

    node = start_node(tmp_path, store=first.store)
    try:
        async with node.client() as client:
            ready = await eventually(lambda: _status(client.get("/readyz")), timeout=20)
            assert ready == 200
            for path in (
                "/api/stations",
                "/api/stations/GOOD-1",
                "/api/stations/GOOD-1/events",
                "/api/transactions",
                "/api/transactions?station=GOOD-1",
                "/api/reservations",
                "/api/id-tags",
                "/api/charging-profiles",
                "/api/registry/stations",
                "/api/commands",
                "/api/commands?station=GOOD-1",
                "/api/local-lists",
                "/metrics",
            ):
                answer = await client.get(path)
                assert answer.status_code == 200, (path, answer.text[:300])
                json.dumps(answer.json() if path != "/metrics" else answer.text)

        # Stations still connect (the registry snapshot reads every registry document),
        # and what waited for GOOD-1 before the restart still goes out at its boot.
        async with connected_station(node, "GOOD-1") as station:
            boot = await station.boot()
            assert boot.status == "Accepted"
            await eventually(lambda: _received(station), timeout=15)
        async with connected_station(node, "BAD-empty") as other:
            assert (await other.boot()).status == "Accepted"
        async with node.client() as client:
            health = (await client.get("/healthz")).json()
        # Reported: the ones read so far (at start, by the API reads and the boots above);
        # /healthz counts them all and lists the first 100 (the log may fold repeats).
        assert health["quarantined"]["count"] >= 4 * len(MODELS)
        assert {"twin", "station_registry", "station"} <= {
            d["model"] for d in health["quarantined"]["documents"]
        }
        async with node.client() as client:
            registered = (await client.get("/api/registry/stations")).json()
            tags = (await client.get("/api/id-tags")).json()
            lists = (await client.get("/api/local-lists")).json()
            sent = await client.post(
                "/api/stations/GOOD-1/commands/send-local-list",
                json={"list_name": "BAD-types", "list_version": 3, "update_type": "Full"},
            )
        # Set aside, not served half-read (no planted document has a registry's, a
        # tag's or a local list's fields); a list set aside is one there is not.
        assert registered == [] and tags == [] and lists == []
        assert sent.status_code == 422 and sent.json()["error"] == "LocalListNotFound"
    finally:
        node.stop()
    assert "Traceback" not in node.log(), node.log()[-5000:]
    assert "quarantined" in node.log()


async def _status(pending: Any) -> int | None:
    answer = await pending
    return int(answer.status_code) if answer.status_code == 200 else None


async def _received(station: Any) -> bool:
    await asyncio.sleep(0)
    return any(name == "RemoteStartTransaction" for name, _ in station.received)
