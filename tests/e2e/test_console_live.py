"""The operator console live and in the past (issue 15): telemetry through the event
stream within a second, the stale banner going once the node is back, and the time
slider showing a connector's status as the station reported it then. Chromium against
a real ``chargeledger serve`` and ``ocpp`` stations, as in ``test_console.py``."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from ocpp.v16 import call
from playwright.async_api import Browser, expect

from tests.e2e.browser import console_fixtures, signed_in
from tests.e2e.conftest import ServedNode, connected_station, start_node
from tests.e2e.profile_support import ready_station
from tests.e2e.test_console_pages import opened

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]


browser, node = console_fixtures("console-live")


async def test_the_overview_shows_telemetry_live_through_the_stream(
    node: ServedNode, browser: Browser
) -> None:
    """Status notifications and connections are not in the log: the stream announces
    them (StationTelemetry), so they show within a second, not at the next re-read."""
    async with ready_station(node, "OV-LIVE") as station:
        page = await signed_in(browser, node)
        row = page.locator("#stations tr", has_text="OV-LIVE")
        first = row.locator("ul.connectors li").first
        await expect(first).to_contain_text("Available")
        await page.wait_for_timeout(300)  # the page's own reading of it is over
        for status, code in (("Faulted", "GroundFailure"), ("Unavailable", "NoError")):
            await station.call(
                call.StatusNotification(connector_id=1, error_code=code, status=status)
            )
            await expect(first).to_contain_text(status, timeout=1000)
        await expect(first).not_to_contain_text("GroundFailure", timeout=1000)
    await expect(row.locator(".connection")).to_have_text("offline", timeout=1000)


async def test_the_stream_names_stations_whose_telemetry_changed(node: ServedNode) -> None:
    async with (
        ready_station(node, "SSE-TEL") as station,
        node.client() as api,
        api.stream("GET", "/api/events/stream") as events,
    ):
        assert events.status_code == 200
        lines = events.aiter_lines()
        assert (await anext(lines)).startswith(": chargeledger event stream")
        await station.call(
            call.StatusNotification(connector_id=2, error_code="NoError", status="Preparing")
        )

        async def telemetry() -> list[str]:
            event = ""
            async for line in lines:
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif event == "StationTelemetry" and line.startswith("data: "):
                    return list(json.loads(line.removeprefix("data: "))["stations"])
            return []

        assert await asyncio.wait_for(telemetry(), 5) == ["SSE-TEL"]


async def test_the_time_slider_shows_a_fault_the_station_reported_then(
    node: ServedNode, browser: Browser
) -> None:
    """Status notifications are telemetry, not in the log: the twin keeps their last
    changes, and ``?at=`` answers each connector's status as reported by then."""
    async with ready_station(node, "PAST-FAULT") as station:
        await asyncio.sleep(1.1)
        await station.call(
            call.StatusNotification(connector_id=2, error_code="GroundFailure", status="Faulted")
        )
        await asyncio.sleep(1.1)
        while_faulted = int(time.time())
        await asyncio.sleep(1.1)
        await station.call(
            call.StatusNotification(connector_id=2, error_code="NoError", status="Available")
        )
        page = await opened(browser, node, "station/PAST-FAULT")
        await expect(page.locator("#connectors tbody tr").nth(1)).to_contain_text("Available")
        await page.locator("#time-slider").fill(str(while_faulted))
        then = page.locator("#past-connectors tbody tr").nth(1)
        await expect(then).to_contain_text("Faulted")
        await expect(then).to_contain_text("GroundFailure")
        await expect(page.locator("#past-connectors tbody tr").first).to_contain_text("Available")
        await page.locator("#time-slider").fill(str(while_faulted + 3))
        await expect(then).to_contain_text("Available")
        await expect(then).not_to_contain_text("GroundFailure")


def restarted(node: ServedNode) -> ServedNode:
    """The same node started again: its command line, ports and store."""
    log_path = node.log_path.with_suffix(".again.log")
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            node.args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    again = dataclasses.replace(node, process=process, log_path=log_path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{node.api_url}/healthz", timeout=1).status_code == 200:
                return again
        except httpx.HTTPError:
            time.sleep(0.1)
    again.stop(signal.SIGKILL)
    raise RuntimeError(f"the node did not come back:\n{again.log()}")


async def test_the_stale_banner_goes_once_the_node_is_back_and_the_page_reads_anew(
    tmp_path: Path, browser: Browser
) -> None:
    node = start_node(tmp_path)
    again: ServedNode | None = None
    try:
        async with connected_station(node, "LIVE-BACK") as station:
            await station.boot()
            page = await signed_in(browser, node)
            row = page.locator("#stations tr", has_text="LIVE-BACK")
            await expect(row.locator(".connection")).to_have_text("connected")
            node.stop(signal.SIGKILL)
            banner = page.locator("#stream-banner")
            await expect(banner).to_be_visible(timeout=5000)
            await expect(row.locator(".connection")).to_contain_text("unknown")
        again = await asyncio.to_thread(restarted, node)
        await expect(page.locator("#stream-state")).to_have_text("live", timeout=15_000)
        await expect(banner).to_be_hidden()
        # Read anew from the node that came back, not the state from before the drop.
        await expect(row.locator(".connection")).to_have_text("offline")
        async with connected_station(again, "LIVE-BACK") as station:
            await station.boot()
            await expect(row.locator(".connection")).to_have_text("connected", timeout=2000)
    finally:
        (again or node).stop()
