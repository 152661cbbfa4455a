"""End to end: set-network-profile's VPN and APN passwords (its VPN key, its SIM PIN)
reach the 2.0.1 station in its SetNetworkProfile, and never the event log: not on
SQLite after the node was killed with SIGKILL and restarted before sending, not on
PostgreSQL when another node of the cluster holds the station. Once the command has
ended, the document that kept them for the CALL is gone too."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from tests.e2e.cluster_support import FAST, start_cluster
from tests.e2e.conftest import start_node
from tests.e2e.station201 import command, connected_201, ended

VPN_PASSWORD = "vpn-Pa55-9a7e"
VPN_KEY = "vpn-key-61c0d3f2b8"
APN_PASSWORD = "apn-Pa55-4f1b"
SIM_PIN = 48213579
SECRETS = (VPN_PASSWORD, VPN_KEY, APN_PASSWORD, str(SIM_PIN))

NETWORK = {
    "configuration_slot": 2,
    "connection_data": {
        "ocpp_version": "OCPP20",
        "ocpp_transport": "JSON",
        "ocpp_csms_url": "wss://csms.example/ocpp",
        "message_timeout": 30,
        "security_profile": 1,
        "ocpp_interface": "Wireless0",
        "vpn": {
            "server": "vpn.example",
            "user": "station",
            "password": VPN_PASSWORD,
            "key": VPN_KEY,
            "type": "IKEv2",
        },
        "apn": {
            "apn": "internet.example",
            "apn_user_name": "ev",
            "apn_password": APN_PASSWORD,
            "sim_pin": SIM_PIN,
            "apn_authentication": "CHAP",
        },
    },
}


def _received(station: Any) -> dict[str, Any]:
    [payload] = [p for action, p in station.received if action == "SetNetworkProfile"]
    data: dict[str, Any] = payload["connection_data"]
    return data


def _sqlite_rows(path: Path, query: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [" ".join(map(str, row)) for row in conn.execute(query)]


def _leaked(rows: list[str]) -> list[str]:
    return [row for row in rows if any(secret in row for secret in SECRETS)]


async def test_the_secrets_reach_the_station_after_a_sigkill_and_never_the_sqlite_log(
    tmp_path: Path,
) -> None:
    node = start_node(tmp_path)
    database = tmp_path / "node.db"
    try:
        async with connected_201(node, "NS-1") as station:
            await station.boot()
        async with node.client() as api:
            asked = await command(api, "NS-1", "set-network-profile", "np-kill", **NETWORK)
            assert asked.status_code == 202, asked.text
        node.stop(signal.SIGKILL)  # before the station came back: nothing was sent
        kept = _sqlite_rows(
            database, "SELECT key, doc FROM documents WHERE model = 'command_secrets'"
        )
        assert len(kept) == 1 and VPN_PASSWORD in kept[0]  # kept beside the log, not in it

        node = start_node(tmp_path, store=node.store)
        async with connected_201(node, "NS-1") as station, node.client() as api:
            await station.boot()
            view = await ended(api, "np-kill", "accepted")
            assert not [s for s in SECRETS if s in str(view)]
            sent = _received(station)
            assert sent["vpn"]["password"] == VPN_PASSWORD and sent["vpn"]["key"] == VPN_KEY
            assert sent["apn"]["apn_password"] == APN_PASSWORD
            assert sent["apn"]["sim_pin"] == SIM_PIN
            assert sent["ocpp_csms_url"] == "wss://csms.example/ocpp"
            events = (await api.get("/api/stations/NS-1/events")).text
            assert "sealed:np-kill" in events and not [s for s in SECRETS if s in events]
    finally:
        node.stop()
    rows = _sqlite_rows(database, "SELECT type, data, metadata FROM events")
    assert any("SetNetworkProfileRequested" in row for row in rows)
    assert _leaked(rows) == []
    assert _leaked(_sqlite_rows(database, "SELECT command_id, outcome FROM stream_commands")) == []
    assert _leaked(_sqlite_rows(database, "SELECT model, key, doc FROM documents")) == []


async def test_a_node_without_the_station_keeps_the_secrets_out_of_the_postgresql_log(
    tmp_path: Path, postgres_dsn: str
) -> None:
    nodes = start_cluster(tmp_path, postgres_dsn, 2, *FAST)
    try:
        async with connected_201(nodes[0], "NS-2") as station:
            await station.boot()
            async with nodes[1].client() as api:
                asked = await command(api, "NS-2", "set-network-profile", "np-pg", **NETWORK)
                assert asked.status_code == 202, asked.text
                await ended(api, "np-pg", "accepted")
            sent = _received(station)
            assert sent["vpn"]["password"] == VPN_PASSWORD
            assert sent["apn"]["apn_password"] == APN_PASSWORD
    finally:
        for node in nodes:
            node.stop()
    with psycopg.connect(postgres_dsn) as conn:

        def rows(query: str) -> list[str]:
            return [" ".join(map(str, row)) for row in conn.execute(query).fetchall()]

        events = rows("SELECT type, data::text, metadata::text FROM events")
        assert any("SetNetworkProfileRequested" in row for row in events)
        assert _leaked(events) == []
        assert _leaked(rows("SELECT command_id, outcome::text FROM stream_commands")) == []
        assert _leaked(rows("SELECT model, key, doc::text FROM documents")) == []
        assert rows("SELECT key FROM documents WHERE model = 'command_secrets'") == []
