"""Issue 11, items 14 and 15, end to end: the station registry over HTTP and the CLI
with explicit add / set-password / remove semantics and ids checked as the gateway
checks them; one node per SQLite file."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
import websockets
from websockets.typing import Subprotocol

from tests.e2e.conftest import ServedNode, start_node


def cli(store: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``chargeledger GROUP [ACTION] --store STORE ...`` (``--store`` where the group takes it)."""
    at = 2 if args[0] == "projections" else 1
    command = [sys.executable, "-m", "chargeledger.entrypoints.cli", *args[:at], "--store", store]
    return subprocess.run(
        [*command, *args[at:]],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_registry_adds_changes_and_removes_with_explicit_semantics(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path / 'reg.db'}"
    assert cli(store, "stations", "add", "CP-1", "--password", "x").returncode == 0
    again = cli(store, "stations", "add", "CP-1")
    assert again.returncode == 2
    assert "StationAlreadyRegistered" in again.stderr
    assert "CP-1\tpassword" in cli(store, "stations", "list").stdout  # the password stayed
    assert cli(store, "stations", "set-password", "CP-1", "--no-password").returncode == 0
    assert "CP-1\tno password" in cli(store, "stations", "list").stdout
    for bad in ("", "a/b", "X" * 49, "sp ace"):
        refused = cli(store, "stations", "add", bad)
        assert refused.returncode == 2, bad
        assert "ValidationError" in refused.stderr
    assert cli(store, "stations", "remove", "CP-1").returncode == 0
    gone = cli(store, "stations", "remove", "CP-1")
    assert (gone.returncode, "StationNotFound" in gone.stderr) == (2, True)
    assert cli(store, "stations", "list").stdout == ""


async def test_the_registry_over_http(node: ServedNode) -> None:
    async with node.client() as api:
        created = await api.post("/api/registry/stations", json={"id": "CP-9", "password": "pw"})
        assert created.status_code == 201, created.text
        assert created.json() == {"id": "CP-9", "has_password": True}
        twice = await api.post("/api/registry/stations", json={"id": "CP-9", "password": None})
        assert twice.status_code == 409
        assert twice.json()["error"] == "StationAlreadyRegistered"
        assert (await api.get("/api/registry/stations/CP-9")).json()["has_password"] is True
        for bad in ({"id": ""}, {"id": "a/b"}, {"id": "X" * 49}, {"password": "x"}):
            invalid = await api.post("/api/registry/stations", json=bad)
            assert invalid.status_code == 422, bad
            assert set(invalid.json()) == {"error", "detail"}
        await api.post("/api/registry/stations", json={"id": "CP-8", "password": None})
        listed = (await api.get("/api/registry/stations")).json()
        assert listed == [
            {"id": "CP-8", "has_password": False},
            {"id": "CP-9", "has_password": True},
        ]
        changed = await api.put("/api/registry/stations/CP-9/password", json={"password": None})
        assert (changed.status_code, changed.json()["has_password"]) == (200, False)
        unknown = await api.put("/api/registry/stations/NOPE/password", json={"password": "x"})
        assert unknown.status_code == 404
        assert (await api.delete("/api/registry/stations/CP-9")).status_code == 204
        assert (await api.delete("/api/registry/stations/CP-9")).status_code == 404
        assert (await api.get("/api/registry/stations/CP-9")).status_code == 404


async def test_a_station_with_a_password_set_over_http_must_send_it(tmp_path: Path) -> None:
    node = start_node(tmp_path, "--unknown-stations", "reject")
    try:
        async with node.client() as api:
            await api.post("/api/registry/stations", json={"id": "CP-PW", "password": "s3cret"})
        token = base64.b64encode(b"CP-PW:s3cret").decode()
        async with websockets.connect(
            f"{node.ocpp_url}/CP-PW",
            subprotocols=[Subprotocol("ocpp1.6")],
            additional_headers={"Authorization": f"Basic {token}"},
        ):
            pass
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(
                f"{node.ocpp_url}/CP-PW", subprotocols=[Subprotocol("ocpp1.6")]
            ):
                pass
    finally:
        node.stop()


def test_a_second_node_on_the_same_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    first = start_node(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="served by another node"):
            start_node(tmp_path, store=first.store)
        rebuild = cli(first.store, "projections", "rebuild")
        assert rebuild.returncode == 2
        assert "served by another node" in rebuild.stderr
    finally:
        first.stop()
    second = start_node(tmp_path, store=first.store)  # the lock went with the first
    second.stop()
