"""What an operator sees of a served node: ``/metrics`` in Prometheus' format, moving
with what happens, and log lines that say who each event is about."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from ocpp.v16 import call
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import TOKEN, ServedNode, connected_station, eventually, start_node

STAMP = "2026-03-01T10:00:00Z"

REQUIRED = {
    "chargeledger_connected_stations": "gauge",
    "chargeledger_connections_opened": "counter",
    "chargeledger_connections_closed": "counter",
    "chargeledger_ocpp_messages": "counter",
    "chargeledger_ocpp_call_round_trip_seconds": "histogram",
    "chargeledger_commands_requested": "counter",
    "chargeledger_commands": "counter",
    "chargeledger_command_latency_seconds": "histogram",
    "chargeledger_commands_in_doubt": "gauge",
    "chargeledger_sessions_open": "gauge",
    "chargeledger_sessions": "counter",
    "chargeledger_energy_delivered_wh": "counter",
    "chargeledger_store_append_seconds": "histogram",
    "chargeledger_store_append_events": "histogram",
    "chargeledger_store_errors": "counter",
    "chargeledger_version_conflicts": "counter",
    "chargeledger_append_retries": "counter",
    "chargeledger_projection_lag_events": "gauge",
    "chargeledger_projection_lag_seconds": "gauge",
    "chargeledger_twin_flush_seconds": "histogram",
    "chargeledger_http_requests": "counter",
    "chargeledger_process_resident_memory_bytes": "gauge",
    "chargeledger_process_cpu_seconds": "counter",
}


def scrape(node: ServedNode) -> tuple[str, dict[str, Any]]:
    response = httpx.get(f"{node.api_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    return response.text, families


def value(families: dict[str, Any], family: str, sample: str, **labels: str) -> float:
    total = 0.0
    for found in families[family].samples:
        if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
            total += found.value
    return total


def test_every_family_has_help_and_type(node: ServedNode) -> None:
    text, families = scrape(node)
    for name, kind in REQUIRED.items():
        assert name in families, f"{name} missing from /metrics"
        assert families[name].type == kind, name
        assert families[name].documentation, f"{name} has no HELP"
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert f"# HELP {name} " in text, f"{name}: TYPE without HELP"
    assert all(name.startswith("chargeledger_") for name in families), sorted(families)


async def test_values_move_after_a_boot_and_a_command(node: ServedNode) -> None:
    _, before = scrape(node)
    assert value(before, "chargeledger_connected_stations", "chargeledger_connected_stations") == 0
    async with connected_station(node, "CP-M") as station, node.client() as api:
        await station.boot()
        answer = await api.post(
            "/api/stations/CP-M/commands/remote-start",
            json={"connector_id": 1, "id_tag": "TAG-1"},
            headers={"Idempotency-Key": "metrics-1"},
        )
        assert answer.status_code == 202

        async def ended() -> Any:
            _, families = scrape(node)
            done = value(
                families,
                "chargeledger_commands",
                "chargeledger_commands_total",
                command="remote-start",
                status="accepted",
            )
            return families if done == 1 else None

        after = await eventually(ended)
        connected = "chargeledger_connected_stations"
        assert value(after, connected, connected, protocol="ocpp1.6") == 1
        assert (
            value(
                after,
                "chargeledger_connections_opened",
                "chargeledger_connections_opened_total",
                protocol="ocpp1.6",
            )
            == 1
        )
        boots = value(
            after,
            "chargeledger_ocpp_messages",
            "chargeledger_ocpp_messages_total",
            direction="in",
            action="BootNotification",
            outcome="result",
        )
        assert boots == 1
        round_trips = value(
            after,
            "chargeledger_ocpp_call_round_trip_seconds",
            "chargeledger_ocpp_call_round_trip_seconds_count",
            action="RemoteStartTransaction",
        )
        assert round_trips == 1
        for stage in ("dispatch", "terminal"):
            latency = value(
                after,
                "chargeledger_command_latency_seconds",
                "chargeledger_command_latency_seconds_count",
                command="remote-start",
                stage=stage,
            )
            assert latency == 1, stage
        appends = "chargeledger_store_append_seconds"
        assert value(after, appends, f"{appends}_count") > value(
            before, appends, f"{appends}_count"
        )
        posted = value(
            after,
            "chargeledger_http_requests",
            "chargeledger_http_requests_total",
            method="POST",
            route="/api/stations/{station_id}/commands/{name}",
            status="202",
        )
        assert posted == 1
    _, closed = scrape(node)
    assert value(closed, "chargeledger_connections_closed", "chargeledger_connections_closed_total")


def test_the_bus_retries_are_a_counter_that_catches_up_at_each_scrape() -> None:
    from chargeledger.adapters.metrics import NodeMetrics

    metrics = NodeMetrics("a")
    for since_start in (0, 3, 3, 7):
        metrics.handler_retried(since_start)
    assert b"chargeledger_append_retries_total 7.0" in metrics.render()


def test_two_nodes_in_one_process_keep_their_own_numbers() -> None:
    """One registry per node (tests build several nodes in one process)."""
    from chargeledger.adapters.metrics import NodeMetrics

    first, second = NodeMetrics("a"), NodeMetrics("b")
    first.commands_requested.labels("reset").inc()
    assert b'chargeledger_commands_requested_total{command="reset"} 1.0' in first.render()
    assert b'command="reset"' not in second.render()


def _json_lines(node: ServedNode) -> list[dict[str, Any]]:
    lines = []
    for line in node.log().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_json_logs_say_who_each_event_is_about(tmp_path: Path) -> None:
    # The log options after the subcommand override those before it (INFO, text).
    node = start_node(tmp_path, "--log-format", "json", "--log-level", "DEBUG", "--node-id", "n-7")
    try:
        async with connected_station(node, "CP-L") as station, node.client() as api:
            await station.call(
                call.BootNotification(
                    charge_point_vendor="test", charge_point_model="e2e", firmware_version="4.2.1"
                )
            )
            await api.put("/api/id-tags/TAG-1", json={"status": "Accepted"})
            started = await station.call(
                call.StartTransaction(
                    connector_id=2, id_tag="TAG-1", meter_start=100, timestamp=STAMP
                )
            )
            await station.call(
                call.StopTransaction(
                    transaction_id=started.transaction_id, meter_stop=1600, timestamp=STAMP
                )
            )
            await api.post(
                "/api/stations/CP-L/commands/remote-start",
                json={"connector_id": 1, "id_tag": "TAG-1"},
                headers={"Idempotency-Key": "log-1"},
            )

            async def ended() -> Any:
                view = (await api.get("/api/commands/log-1")).json()
                return view if view.get("status") == "accepted" else None

            await eventually(ended)
            async with connected_station(node, "CP-L") as newer:
                await newer.boot()  # the older connection is taken over
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(node.ocpp_url.replace("/ocpp", "/elsewhere")):
                pass

        async def disconnected() -> Any:
            return [line for line in _json_lines(node) if "station disconnected" in line["message"]]

        await eventually(disconnected)
    finally:
        node.stop()
    lines = _json_lines(node)
    about_station = [line for line in lines if line.get("station") == "CP-L"]

    def one(fragment: str, **fields: str) -> dict[str, Any]:
        found = [
            line
            for line in about_station
            if fragment in line["message"] and all(line.get(k) == v for k, v in fields.items())
        ]
        assert found, f"no line with {fragment!r} {fields}"
        return found[0]

    connected = one("station connected", node="n-7")
    assert connected["client"].startswith("127.0.0.1:")
    assert "ocpp1.6" in connected["message"] and "auth none" in connected["message"]
    booted = one("station booted")
    assert "vendor test, model e2e, firmware 4.2.1; registration Accepted" in booted["message"]
    assert booted["client"] == connected["client"] and booted["node"] == "n-7"
    session = one("started on connector 2 (id tag TAG-1, meter 100 Wh)")["message"].split()[1]
    assert "(Local): 1500 Wh" in one(f"session {session} stopped on connector 2")["message"]
    requested = one("command remote-start requested", command="log-1")["message"]
    assert requested.endswith('requested: {"connector_id": 1, "id_tag": "TAG-1"}'), requested
    one("command remote-start dispatched", command="log-1")
    accepted = one("command remote-start accepted", command="log-1")
    assert " s after its request" in accepted["message"]
    boot_frame = one("<- [2,", action="BootNotification")
    assert boot_frame["level"] == "DEBUG" and boot_frame["unique_id"]
    # The CALL of a command and the station's answer to it name the command, so its
    # log lines and its frames are found together.
    sent = one("-> [2,", action="RemoteStartTransaction", command="log-1")
    one("<- [3,", unique_id=sent["unique_id"], command="log-1")
    gone = one("station disconnected")
    assert "after " in gone["message"]
    one("taken over")
    one("station disconnected (superseded)")
    refused = [line for line in lines if "refused: 404" in line["message"]]
    assert refused and refused[0]["client"].startswith("127.0.0.1:")
    assert TOKEN not in node.log(), "a token the user chose was printed"
    starting = [line for line in lines if line["message"].startswith("node starting with")]
    assert starting and TOKEN not in starting[0]["message"]
    assert "api_token=***" in starting[0]["message"]
    assert any("node shutting down" in line["message"] for line in lines)


async def test_text_logs_carry_the_context_in_one_line(node: ServedNode) -> None:
    async with connected_station(node, "CP-T") as station:
        await station.boot()
    await asyncio.sleep(0.2)

    async def connected_line() -> Any:
        found = [line for line in node.log().splitlines() if "station connected" in line]
        return found[0] if found else None

    line = await eventually(connected_line)
    assert "station=CP-T" in line and "client=127.0.0.1:" in line and "node=node-1" in line
    assert " INFO chargeledger.gateway: " in line
