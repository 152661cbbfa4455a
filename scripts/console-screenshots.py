"""Screenshots of the operator console's main pages for docs/ (run by hand:
``.venv/bin/python scripts/console-screenshots.py``). Starts a node and three simulated
stations on 127.0.0.1, sends a few commands, and photographs each page with Debian's
Chromium through Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

DOCS = Path(__file__).resolve().parent.parent / "docs"
TOKEN = "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "chargeledger.entrypoints.cli", *args]


def main() -> None:
    api_port, ocpp_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    work = tempfile.mkdtemp(prefix="console-shots-")
    node = subprocess.Popen(
        cli("serve", "--store", f"sqlite:///{work}/node.db", "--api-port", str(api_port),
            "--ocpp-port", str(ocpp_port), "--api-token", TOKEN, "--unknown-stations", "accept"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    stations = None
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{api}/healthz").status_code == 200:
                    break
            time.sleep(0.1)
        httpx.put(f"{api}/api/id-tags/TAG-1", json={"status": "Accepted"}, headers=headers)
        httpx.put(f"{api}/api/id-tags/TAG-2", json={"status": "Blocked"}, headers=headers)
        profile = {
            "stack_level": 0,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": {
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 32}],
            },
        }
        httpx.put(f"{api}/api/charging-profiles/7", json=profile, headers=headers)
        stations = subprocess.Popen(
            cli("simulate", "--stations", "3", "--url", f"ws://127.0.0.1:{ocpp_port}/ocpp",
                "--duration", "120", "--meter-interval", "2", "--charge-seconds", "60"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(3)
        for station, key in (("SIM-00001", "shot-1"), ("SIM-00002", "shot-2")):
            httpx.post(
                f"{api}/api/stations/{station}/commands/remote-start",
                json={"connector_id": 1, "id_tag": "TAG-1"},
                headers={**headers, "Idempotency-Key": key},
            )
        time.sleep(5)
        asyncio.run(photograph(api))
    finally:
        for process in (stations, node):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(10)


async def photograph(api: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=ARGS
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(f"{api}/#token={TOKEN}")
        await page.locator("#stream-state.live").wait_for()
        shots = [
            ("overview", "#/overview", False),
            ("station", "#/station/SIM-00001", True),
            ("sessions", "#/sessions", False),
            ("id-tags", "#/id-tags", False),
            ("charging-profiles", "#/charging-profiles", False),
            ("reservations", "#/reservations", False),
            ("registry", "#/registry", False),
        ]
        for name, route, full in shots:
            await page.goto(f"{api}/{route}")
            await page.wait_for_timeout(1500)
            await page.screenshot(path=DOCS / f"console-{name}.png", full_page=full)
        # The time slider: the station as it was a few seconds ago.
        earlier = datetime.now(UTC) - timedelta(seconds=4)
        at = earlier.isoformat(timespec="seconds").replace("+00:00", "Z")
        await page.goto(f"{api}/#/station/SIM-00001?at={at}")
        past = page.locator('section[aria-labelledby="h-past"]')
        await past.locator("#past-state").wait_for()
        await past.screenshot(path=DOCS / "console-station-past.png")
        await page.goto(f"{api}/#/station/SIM-00002")
        await page.locator('form[data-command="get-configuration"] button').click()
        await page.wait_for_timeout(1500)
        await page.screenshot(path=DOCS / "console-command-progress.png")
        phone = await browser.new_page(viewport={"width": 390, "height": 844})
        await phone.goto(f"{api}/#token={TOKEN}")
        await phone.wait_for_timeout(2000)
        await phone.screenshot(path=DOCS / "console-phone.png")
        await browser.close()


if __name__ == "__main__":
    main()
