"""Helpers of the six-profile end-to-end tests: one served node per test module (the
tests use distinct station ids, so they do not interfere), a booted station that
reported its two connectors, and the command calls."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from tests.e2e.conftest import ServedNode, connected_station, eventually, start_node
from tests.e2e.profile_station import ProfileStation

TERMINAL = ("accepted", "rejected", "timed_out", "expired", "failed")


def shared_node(factory: pytest.TempPathFactory, name: str) -> ServedNode:
    return start_node(factory.mktemp(name))


def in_(seconds: float) -> str:
    """An ISO-8601 UTC time ``seconds`` from now."""
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


@contextlib.asynccontextmanager
async def ready_station(
    node: ServedNode, station_id: str, connectors: int = 2
) -> AsyncIterator[ProfileStation]:
    """A booted station whose connectors reported Available."""
    async with connected_station(node, station_id, ProfileStation) as station:
        await station.boot()
        for connector in range(1, connectors + 1):
            await station.call(
                call.StatusNotification(
                    connector_id=connector, error_code="NoError", status="Available"
                )
            )
        yield station


async def post(
    api: httpx.AsyncClient, station_id: str, name: str, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await api.post(f"/api/stations/{station_id}/commands/{name}", json=body, headers=headers)


async def send(
    api: httpx.AsyncClient, station_id: str, name: str, body: dict[str, Any], key: str
) -> dict[str, Any]:
    """Post a command that must be taken (202), and wait for its outcome."""
    response = await post(api, station_id, name, body, key)
    assert response.status_code == 202, response.text
    return await ended(api, key)


async def ended(api: httpx.AsyncClient, command_id: str, timeout: float = 10) -> dict[str, Any]:
    async def terminal() -> Any:
        view = (await api.get(f"/api/commands/{command_id}")).json()
        return view if view.get("status") in TERMINAL else None

    view: dict[str, Any] = await eventually(terminal, timeout=timeout)
    return view


async def station_view(api: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/stations/{station_id}")
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view
