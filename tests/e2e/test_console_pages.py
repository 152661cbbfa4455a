"""The operator console's pages beyond the first tests (issue 15's audit): the overview's
counts, search, filter, faults and power; the station page's identity, configuration,
composite schedule, firmware and diagnostics, reservations and timeline; a CALLERROR's
code on screen; a 422 that stays; the sessions' filters and CSV; the registry pages;
Chromium against a real ``chargeledger serve`` and ``ocpp`` stations, as in
``test_console.py``."""

from __future__ import annotations

import asyncio
import csv
import io
import resource
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from playwright.async_api import Browser, Page, expect

from tests.e2e.browser import console_fixtures, signed_in
from tests.e2e.conftest import ServedNode, connected_station, eventually, start_node
from tests.e2e.profile_support import in_, ready_station, send
from tests.e2e.test_console import ended_on_screen, fill_command, progress_of, send_from_form
from tests.e2e.test_profiles import TX_DEFAULT

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]


browser, node = console_fixtures("console-pages")


async def opened(browser: Browser, node: ServedNode, route: str) -> Page:
    page = await signed_in(browser, node)
    await page.goto(f"{page.url.split('#')[0]}#/{route}")
    return page


async def start_session(station: Any, connector: int, id_tag: str) -> int:
    started = await station.call(
        call.StartTransaction(
            connector_id=connector, id_tag=id_tag, meter_start=1000, timestamp=in_(0)
        )
    )
    transaction_id: int = started.transaction_id
    return transaction_id


async def test_the_overview_counts_searches_filters_and_shows_faults_and_power(
    tmp_path: Path, browser: Browser
) -> None:
    node = start_node(tmp_path)  # its own node: the counts are of every station it knows
    try:
        async with connected_station(node, "OV-GONE") as gone:
            await gone.boot()
        async with (
            ready_station(node, "OV-FAULT") as faulty,
            ready_station(node, "OV-CHARGE") as charging,
            node.client() as api,
        ):
            await api.put("/api/id-tags/TAG-1", json={"status": "Accepted"})
            transaction_id = await start_session(charging, 1, "TAG-1")
            await charging.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=transaction_id,
                    meter_value=[
                        {
                            "timestamp": in_(0),
                            "sampledValue": [
                                {"value": "1500"},
                                {"value": "7400", "measurand": "Power.Active.Import"},
                            ],
                        }
                    ],
                )
            )
            await faulty.call(
                call.StatusNotification(
                    connector_id=2, error_code="GroundFailure", status="Faulted"
                )
            )
            page = await signed_in(browser, node)
            counts = {
                kind: page.locator(f'[data-count="{kind}"] strong')
                for kind in ("connected", "charging", "faulted", "offline")
            }
            await expect(counts["connected"]).to_have_text("2")
            await expect(counts["charging"]).to_have_text("1")
            await expect(counts["faulted"]).to_have_text("1")
            await expect(counts["offline"]).to_have_text("1")
            faulted = page.locator("#stations tr", has_text="OV-FAULT")
            await expect(faulted).to_contain_text("Faulted")
            await expect(faulted).to_contain_text("GroundFailure")
            await expect(faulted.locator("td[data-label='last message']")).to_contain_text("s ago")
            busy = page.locator("#stations tr", has_text="OV-CHARGE")
            await expect(busy).to_contain_text(f"#{transaction_id} (TAG-1)")
            await expect(busy).to_contain_text("7.4 kW")
            await expect(page.locator("#stations tr", has_text="OV-GONE")).to_contain_text(
                "offline"
            )

            await page.get_by_label("Search (id, vendor, model, serial)").fill("charge")
            await expect(page.locator("#stations tbody tr")).to_have_count(1)
            await expect(page.locator("#stations tbody tr")).to_contain_text("OV-CHARGE")
            await page.get_by_label("Search (id, vendor, model, serial)").fill("")
            await page.get_by_label("Show").select_option("offline")
            await expect(page.locator("#stations tbody tr")).to_have_count(1)
            await expect(page.locator("#stations tbody tr")).to_contain_text("OV-GONE")
            await page.get_by_label("Show").select_option("faulted")
            await expect(page.locator("#stations tbody tr")).to_have_count(1)
            await expect(page.locator("#stations tbody tr")).to_contain_text("OV-FAULT")
    finally:
        node.stop()


async def test_the_station_page_shows_its_boot_configuration_schedule_reports_and_timeline(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, "ST-FULL") as station, node.client() as api:
        await api.put("/api/id-tags/RES-TAG", json={"status": "Accepted"})
        await station.call(
            call.BootNotification(
                charge_point_vendor="ACME",
                charge_point_model="X1",
                charge_point_serial_number="SN-42",
                firmware_version="1.2.3",
            )
        )
        await station.call(call.FirmwareStatusNotification(status="Downloading"))
        await station.call(call.Authorize(id_tag="RES-TAG"))
        await station.call(call.DataTransfer(vendor_id="com.acme", message_id="hello", data="x"))
        await station.call(call.DiagnosticsStatusNotification(status="Uploading"))
        for name, body in {
            "get-configuration": {},
            "get-composite-schedule": {"connector_id": 1, "duration": 3600},
            "send-local-list": {"update_type": "Full"},
            "set-charging-profile": {"connector_id": 0, "cs_charging_profiles": TX_DEFAULT},
            "reserve-now": {"connector_id": 2, "expiry_date": in_(3600), "id_tag": "RES-TAG"},
        }.items():
            assert (await send(api, "ST-FULL", name, body, f"st-full-{name}"))["status"] == (
                "accepted"
            )
        page = await opened(browser, node, "station/ST-FULL")
        identity = page.locator('section[aria-labelledby="h-identity"]')
        for shown in ("ACME", "X1", "SN-42", "1.2.3", "ocpp1.6", "Accepted"):
            await expect(identity).to_contain_text(shown)
        await expect(identity.locator("dd").nth(6)).to_contain_text("UTC")  # booted at
        await expect(page.locator("#connectors tbody tr")).to_have_count(2)
        configuration = page.locator('section[aria-labelledby="h-configuration"]')
        await expect(configuration.locator("tr", has_text="HeartbeatInterval")).to_contain_text(
            "300"
        )
        await expect(configuration.locator("tr", has_text="NumberOfConnectors")).to_contain_text(
            "yes"
        )
        profiles = page.locator('section[aria-labelledby="h-profiles"]')
        await expect(profiles).to_contain_text('"charging_profile_id": 11')
        await expect(page.locator("#composite-schedule")).to_contain_text("16")
        await expect(page.locator("#composite-schedule")).to_contain_text("st-full-get-composite")
        reports = page.locator('section[aria-labelledby="h-firmware"]')
        await expect(reports).to_contain_text("Firmware: Downloading")
        await expect(reports).to_contain_text("Diagnostics: Uploading")
        reservations = page.locator('section[aria-labelledby="h-reservations"]')
        await expect(reservations.locator("tbody tr")).to_contain_text("RES-TAG")
        twin = page.locator("#twin")
        await expect(page.locator("#twin-authorizations")).to_contain_text("RES-TAG")
        await expect(page.locator("#twin-data-transfers")).to_contain_text("com.acme")
        await expect(page.locator("#twin-statuses")).to_contain_text("Available")
        await expect(twin.locator("#twin-local-list")).to_contain_text(
            "installed version 1, the station reports —; in sync"
        )
        timeline = page.locator("#timeline")
        for event_type in ("StationBooted", "ReserveNowRequested", "CommandAccepted"):
            await expect(timeline.locator("tr", has_text=event_type).first).to_be_visible()


async def test_a_callerror_shows_its_code_and_a_422_stays_until_dismissed(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, "ST-ERR") as station:
        station.not_supported.add("ClearCache")
        page = await opened(browser, node, "station/ST-ERR")
        command_id = await send_from_form(page, "clear-cache", {})
        outcome = await ended_on_screen(page, command_id)
        assert outcome in ("failed", "rejected")
        entry = page.locator(f'#progress-list li[data-command-id="{command_id}"]')
        await expect(entry.locator(".command-detail")).to_contain_text("error code NotSupported")
        await expect(entry.locator(".command-detail")).to_contain_text(
            "ClearCache is not supported by this station"
        )
        await expect(progress_of(page, command_id)).to_have_attribute("data-status", outcome)
        # An accepted one shows the station's answer.
        asked = await send_from_form(page, "get-configuration", {})
        assert await ended_on_screen(page, asked) == "accepted"
        answer = page.locator(f'#progress-list li[data-command-id="{asked}"] details')
        await answer.get_by_text("the station's answer").click()
        await expect(answer.locator(".command-result")).to_contain_text("HeartbeatInterval")

        # A body the form's checks let through but the node refuses: 422, and it stays.
        await fill_command(
            page, "set-charging-profile", {"connector_id": 0, "cs_charging_profiles": {"a": 1}}
        )
        await page.locator('form[data-command="set-charging-profile"] button[type=submit]').click()
        refusal = "set-charging-profile on ST-ERR refused: 422"
        alert = page.locator("#alerts .alert", has_text=refusal)
        await expect(alert).to_be_visible()
        await page.wait_for_timeout(3500)  # past a telemetry refresh of the page
        await expect(alert).to_be_visible()
        await alert.get_by_role("button", name="Dismiss").click()
        await expect(alert).to_have_count(0)
        assert station.of("SetChargingProfile") == []


async def test_the_sessions_page_filters_and_exports_csv(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, "SE-ONE") as one, ready_station(node, "SE-TWO") as two:
        async with node.client() as api:
            for tag in ("TAG-A", "TAG-B"):
                await api.put(f"/api/id-tags/{tag}", json={"status": "Accepted"})
            ended = await start_session(one, 1, "TAG-A")
            await one.call(
                call.StopTransaction(
                    transaction_id=ended, meter_stop=4200, timestamp=in_(0), reason="EVDisconnected"
                )
            )
            await send(
                api, "SE-TWO", "remote-start", {"connector_id": 1, "id_tag": "TAG-B"}, "se-go"
            )
            still_open = await start_session(two, 1, "TAG-B")

            async def listed() -> bool:
                sessions = (await api.get("/api/transactions")).json()
                mine = {s["transaction_id"]: s["status"] for s in sessions}
                return mine.get(ended) == "stopped" and still_open in mine

            await eventually(listed, timeout=5)
        page = await opened(browser, node, "sessions")
        rows = page.locator("#sessions tbody tr")
        await expect(rows.filter(has_text="SE-ONE")).to_contain_text("EVDisconnected")
        await expect(rows.filter(has_text="SE-ONE")).to_contain_text("3200 Wh")

        await page.get_by_label("Id tag").fill("TAG-B")
        await page.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(1)
        await expect(rows).to_contain_text(str(still_open))
        await expect(rows.locator("td[data-label='started by command']")).to_have_text("se-go")
        assert "id_tag=TAG-B" in page.url

        await page.get_by_label("Id tag").fill("")
        await page.get_by_label("Station").fill("SE-ONE")
        await page.get_by_label("Status").select_option("ended")
        await page.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(1)
        await expect(rows).to_contain_text("stopped")
        async with page.expect_download() as download_info:
            await page.locator("#export-csv").click()
        download = await download_info.value
        saved = await download.path()
        text = await asyncio.to_thread(Path(saved).read_text)
        exported = list(csv.DictReader(io.StringIO(text)))
        assert [row["transaction_id"] for row in exported] == [str(ended)]
        assert exported[0]["energy_wh"] == "3200"
        assert exported[0]["stop_reason"] == "EVDisconnected"
        assert int(exported[0]["duration_s"]) >= 0

        await page.get_by_label("Station").fill("")
        await page.get_by_label("Status").select_option("open")
        await page.get_by_label("Started from").fill(in_(3600))
        await page.get_by_role("button", name="Filter").click()
        await expect(page.locator("#export-csv")).to_have_text("Export 0 as CSV")
        await page.get_by_label("Started from").fill(in_(-3600))
        await page.get_by_label("Started until").fill(in_(3600))
        await page.get_by_role("button", name="Filter").click()
        await expect(rows.filter(has_text="SE-TWO")).to_contain_text("open")
        await expect(rows.filter(has_text="SE-ONE")).to_have_count(0)


async def test_the_charging_profiles_page_creates_edits_deletes_and_shows_refusals(
    node: ServedNode, browser: Browser
) -> None:
    async with node.client() as api:
        page = await opened(browser, node, "charging-profiles")
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.get_by_label("Profile id").fill("21")
        await page.get_by_role("button", name="Save profile").click()
        row = page.locator("#charging-profiles tr", has_text="TxDefaultProfile").filter(
            has=page.locator("td", has_text="21")
        )
        await expect(row).to_contain_text("0s: 32")
        await row.get_by_role("button", name="Edit profile 21").click()
        profile = page.get_by_label("Profile (JSON, the csChargingProfiles fields in snake_case)")
        await profile.fill((await profile.input_value()).replace('"limit": 32', '"limit": 20'))
        await page.get_by_role("button", name="Save profile").click()
        await expect(row).to_contain_text("0s: 20")
        stored = (await api.get("/api/charging-profiles/21")).json()
        assert stored["charging_schedule"]["charging_schedule_period"][0]["limit"] == 20

        # What was typed stays through the page's refresh after the save.
        await expect(page.get_by_label("Profile id")).to_have_value("21")
        await profile.fill('{"stack_level": 0}')
        await page.get_by_role("button", name="Save profile").click()
        refused = page.locator("#alerts .alert", has_text="Saving profile 21")
        await expect(refused).to_contain_text("422")
        await page.wait_for_timeout(500)
        await expect(refused).to_be_visible()

        await page.get_by_label("Profile id").fill("")
        await page.get_by_role("button", name="Save profile").click()
        await expect(page.locator("#profile-id-error")).to_have_text(
            "Profile id is required: a whole number from 1"
        )
        await row.get_by_role("button", name="Delete profile 21").click()
        await expect(row).to_have_count(0)
        assert (await api.get("/api/charging-profiles/21")).status_code == 404


async def test_the_reservations_page_lists_and_cancels(node: ServedNode, browser: Browser) -> None:
    async with ready_station(node, "RS-ONE") as station, node.client() as api:
        await api.put("/api/id-tags/RES-TAG", json={"status": "Accepted"})
        body = {"connector_id": 1, "expiry_date": in_(3600), "id_tag": "RES-TAG"}
        await send(api, "RS-ONE", "reserve-now", body, "rs-one-reserve")
        page = await opened(browser, node, "reservations?station=RS-ONE")
        row = page.locator("#reservations tbody tr", has_text="RES-TAG")
        await expect(row).to_contain_text("active")
        await row.get_by_role("button", name="Cancel").click()
        command_id = await eventually(
            lambda: page.locator("#progress-list li").first.get_attribute("data-command-id")
        )
        assert await ended_on_screen(page, command_id) == "accepted"
        await expect(row).not_to_contain_text("active")
        assert len(station.of("CancelReservation")) == 1


async def test_an_id_tag_expires_and_a_station_gets_a_password(
    node: ServedNode, browser: Browser
) -> None:
    async with node.client() as api:
        page = await opened(browser, node, "id-tags")
        await page.get_by_label("Id tag", exact=True).fill("EXP-TAG")
        await page.get_by_label("Expiry (optional)").fill("2027-12-31T23:59:59Z")
        await page.get_by_role("button", name="Save tag").click()
        row = page.locator("#id-tags tr", has_text="EXP-TAG")
        await expect(row).to_contain_text("2027-12-31 23:59:59 UTC")
        await row.get_by_role("button", name="Expire EXP-TAG").click()
        await expect(row).to_contain_text("Expired")
        tags = {t["id_tag"]: t for t in (await api.get("/api/id-tags")).json()}
        assert tags["EXP-TAG"]["status"] == "Expired"

        await page.goto(f"{page.url.split('#')[0]}#/registry")
        await page.get_by_label("Station id").fill("PW-LATER")
        await page.get_by_role("button", name="Add station").click()
        row = page.locator("#registry tr", has_text="PW-LATER")
        await expect(row).to_contain_text("none")
        await row.get_by_label("New password for PW-LATER").fill("later-s3cret")
        await row.get_by_role("button", name="Set password").click()
        await expect(row).to_contain_text("set")
        assert (await api.get("/api/registry/stations/PW-LATER")).json()["has_password"] is True


async def test_a_503_from_a_store_that_cannot_write_stays_and_a_404_page_says_so(
    node: ServedNode, browser: Browser
) -> None:
    """The store is denied writes as a full disk denies them (RLIMIT_FSIZE on the node,
    as in test_http_hardening): the command is refused with 503 and the page keeps
    saying so until dismissed."""
    async with ready_station(node, "ST-503") as station:
        page = await opened(browser, node, "station/ST-503")
        await fill_command(page, "remote-start", {"connector_id": 1, "id_tag": "TAG-1"})
        limit_file_size(node, 1)
        try:
            await page.locator('form[data-command="remote-start"] button[type=submit]').click()
            alert = page.locator("#alerts .alert", has_text="remote-start on ST-503 refused: 503")
            await expect(alert).to_contain_text("StoreUnavailable")
        finally:
            limit_file_size(node, resource.RLIM_INFINITY)
        await page.wait_for_timeout(1000)
        await expect(alert).to_be_visible()
        await alert.get_by_role("button", name="Dismiss").click()
        await expect(alert).to_have_count(0)
        assert station.of("RemoteStartTransaction") == []
        await page.goto(f"{page.url.split('#')[0]}#/station/NO-SUCH-STATION")
        await expect(page.locator("#view")).to_contain_text("404 StationNotFound")


def limit_file_size(node: ServedNode, size: int) -> None:
    _, hard = resource.prlimit(node.process.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(node.process.pid, resource.RLIMIT_FSIZE, (size, hard))
