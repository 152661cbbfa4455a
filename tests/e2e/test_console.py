"""The operator console in a real browser (Chromium through Playwright) against a real
``chargeledger serve`` and stations made from the ``ocpp`` package's ``ChargePoint``."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from playwright.async_api import Browser, Page, expect

from tests.e2e.browser import INSECURE_HOST, console_fixtures, signed_in
from tests.e2e.conftest import ServedNode, connected_station, eventually, start_node
from tests.e2e.profile_support import in_, ready_station
from tests.e2e.test_profiles import TX_DEFAULT, bodies

# One browser and one node for the module (the tests use distinct station ids); the
# test that kills a node starts its own.
pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]

TERMINAL = ("accepted", "rejected", "timed_out", "expired", "failed")


browser, node = console_fixtures("console")


def progress_of(page: Page, command_id: str) -> Any:
    return page.locator(f'#progress-list li[data-command-id="{command_id}"] .command-status')


async def fill_command(page: Page, name: str, body: dict[str, Any]) -> None:
    """Type a body into the command's form, field by field, as an operator would."""
    for field, value in body.items():
        control = page.locator(f"#cmd-{name}-{field}")
        tag = await control.evaluate("el => el.tagName")
        if tag == "SELECT":
            await control.select_option(str(value))
        elif isinstance(value, dict):
            await control.fill(json.dumps(value))
        elif isinstance(value, list):
            await control.fill(", ".join(value))
        else:
            await control.fill(str(value))


async def send_from_form(page: Page, name: str, body: dict[str, Any]) -> str:
    """Fill and send a command's form; the command id the page made for it."""
    before = set(
        await page.locator("#progress-list li").evaluate_all("l => l.map(e => e.dataset.commandId)")
    )
    await fill_command(page, name, body)
    await page.locator(f'form[data-command="{name}"] button[type=submit]').click()

    async def new_entry() -> Any:
        ids = await page.locator("#progress-list li").evaluate_all(
            "l => l.map(e => e.dataset.commandId)"
        )
        fresh = [i for i in ids if i not in before]
        return fresh[0] if fresh else None

    command_id: str = await eventually(new_entry, timeout=5)
    return command_id


async def ended_on_screen(page: Page, command_id: str) -> str:
    status = progress_of(page, command_id)

    async def terminal() -> Any:
        value = await status.get_attribute("data-status")
        return value if value in TERMINAL else None

    shown: str = await eventually(terminal, timeout=10)
    return shown


async def test_the_overview_shows_a_booted_station_live_within_a_second(
    node: ServedNode, browser: Browser
) -> None:
    page = await signed_in(browser, node)
    assert "token" not in page.url  # taken out of the address bar after the first load
    async with connected_station(node, "CON-LIVE") as station:
        await station.boot()
        booted = time.monotonic()
        row = page.locator("#stations tr", has_text="CON-LIVE")
        await expect(row).to_contain_text("Accepted", timeout=1000)
        shown_after = time.monotonic() - booted
        await expect(row.locator(".connection")).to_have_text("connected")
    assert shown_after < 1.0


async def test_a_remote_start_from_a_page_that_is_not_a_secure_context_ends_accepted(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, "CON-START") as station, node.client() as api:
        await api.put("/api/id-tags/TAG-1", json={"status": "Accepted"})
        page = await signed_in(browser, node, host=INSECURE_HOST)
        assert await page.evaluate("window.isSecureContext") is False
        await page.goto(f"{page.url.split('#')[0]}#/station/CON-START")
        command_id = await send_from_form(
            page, "remote-start", {"connector_id": 1, "id_tag": "TAG-1"}
        )
        assert await ended_on_screen(page, command_id) == "accepted"
        steps = page.locator(f'#progress-list li[data-command-id="{command_id}"] .steps')
        await expect(steps).to_have_text("requested → dispatched → accepted")
        assert station.of("RemoteStartTransaction") == [{"connector_id": 1, "id_tag": "TAG-1"}]
        view = (await api.get(f"/api/commands/{command_id}")).json()
        assert view["status"] == "accepted"


async def test_a_refused_command_stays_on_screen_until_dismissed(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, "CON-REFUSE") as station:
        page = await signed_in(browser, node)
        await page.goto(f"{page.url.split('#')[0]}#/station/CON-REFUSE")
        form = page.locator('form[data-command="remote-start"]')
        # Checked before sending: a missing id tag is marked, and nothing is sent.
        await fill_command(page, "remote-start", {"connector_id": 1})
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#cmd-remote-start-id_tag")).to_have_attribute(
            "aria-invalid", "true"
        )
        await expect(page.locator("#cmd-remote-start-id_tag-error")).to_contain_text("required")
        # The node refuses a reservation that would already have ended: 409, and it stays.
        await fill_command(
            page,
            "reserve-now",
            {"connector_id": 1, "id_tag": "TAG-1", "expiry_date": "2020-01-01T00:00:00Z"},
        )
        await page.locator('form[data-command="reserve-now"] button[type=submit]').click()
        alert = page.locator("#alerts .alert", has_text="reserve-now on CON-REFUSE refused: 409")
        await expect(alert).to_be_visible()
        await page.wait_for_timeout(3500)  # past a telemetry refresh of the page
        await expect(alert).to_be_visible()
        await expect(alert).to_contain_text("ExpiryInThePast")
        await alert.get_by_role("button", name="Dismiss").click()
        await expect(alert).to_have_count(0)
        assert station.of("RemoteStartTransaction") == station.of("ReserveNow") == []


async def test_every_operation_form_sends_a_body_the_station_accepts(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, "CON-ALL") as station, node.client() as api:
        await api.put("/api/id-tags/TAG-1", json={"status": "Accepted"})
        await api.put("/api/id-tags/RES-TAG", json={"status": "Accepted"})
        page = await signed_in(browser, node)
        await page.goto(f"{page.url.split('#')[0]}#/station/CON-ALL")
        forms = page.locator(".command-forms form")
        await expect(forms).to_have_count(19)
        outcomes: dict[str, str] = {}

        async def send(name: str, body: dict[str, Any]) -> None:
            outcomes[name] = await ended_on_screen(page, await send_from_form(page, name, body))

        for name, body in bodies().items():
            await send(name, body)
            if name == "reserve-now":
                reservation = (await api.get("/api/reservations?station=CON-ALL")).json()[0]
                await send("cancel-reservation", {"reservation_id": reservation["reservation_id"]})
        await send("remote-start", {"connector_id": 1, "id_tag": "TAG-1"})
        started = await station.call(
            call.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=0, timestamp=in_(0))
        )
        await send("remote-stop", {"transaction_id": started.transaction_id})
        await send("unlock-connector", {"connector_id": 2})
        await send("change-availability", {"connector_id": 2, "type": "Operative"})
        await send("trigger-message", {"requested_message": "Heartbeat"})
        await send("reset", {"type": "Soft"})
        assert outcomes == dict.fromkeys(outcomes, "accepted")
        assert len(outcomes) == 19
        # The station validated each CALL against the OCPP 1.6 schemas as it came in.
        actions = {action for action, _ in station.received}
        assert len(actions) == 19, actions
        assert (
            station.of("SetChargingProfile")[0]["cs_charging_profiles"]["charging_profile_id"]
            == (TX_DEFAULT["charging_profile_id"])
        )


async def test_killing_the_node_shows_the_stale_banner(tmp_path: Path, browser: Browser) -> None:
    node = start_node(tmp_path)
    try:
        await _kill_and_watch(node, browser)
    finally:
        node.stop()


async def _kill_and_watch(node: ServedNode, browser: Browser) -> None:
    async with connected_station(node, "CON-KILL") as station:
        await station.boot()
        page = await signed_in(browser, node)
        row = page.locator("#stations tr", has_text="CON-KILL")
        await expect(row.locator(".connection")).to_have_text("connected")
        await expect(page.locator("#stream-banner")).to_be_hidden()
        node.stop(signal.SIGKILL)
        banner = page.locator("#stream-banner")
        await expect(banner).to_be_visible(timeout=5000)
        await expect(banner).to_contain_text("Live updates lost")
        # What was connected is no longer shown as current: marked, counted with a
        # question mark, dimmed.
        await expect(row.locator(".connection")).to_contain_text("unknown")
        await expect(page.locator('[data-count="connected"] strong')).to_have_text("1?")
        await expect(page.locator("div.live:has(#stations)")).to_have_css("opacity", "0.5")


async def test_the_time_slider_shows_an_earlier_connector_status(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, "CON-PAST") as station, node.client() as api:
        await api.put("/api/id-tags/TAG-1", json={"status": "Accepted"})
        started = await station.call(
            call.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=0, timestamp=in_(0))
        )
        await station.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        await asyncio.sleep(1.1)
        while_charging = int(time.time())
        await asyncio.sleep(1.1)
        await station.call(
            call.StopTransaction(
                transaction_id=started.transaction_id, meter_stop=500, timestamp=in_(0)
            )
        )
        await station.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        await eventually(lambda: _session_status(api, "CON-PAST", "stopped"), timeout=5)
        page = await signed_in(browser, node)
        await page.goto(f"{page.url.split('#')[0]}#/station/CON-PAST")
        await expect(page.locator("#station-sessions")).to_contain_text("stopped")
        await page.locator("#time-slider").fill(str(while_charging))
        past = page.locator("#past-connectors tr", has_text="session #")
        await expect(past).to_contain_text("Charging")
        await expect(past).to_contain_text(f"session #{started.transaction_id}")
        await expect(page.locator("#past-state")).to_contain_text("As the log had it at")


async def test_the_station_page_charts_a_sessions_stored_readings(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, "CON-CHART") as station, node.client() as api:
        await api.put("/api/id-tags/TAG-1", json={"status": "Accepted"})
        started = await station.call(
            call.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=0, timestamp=in_(0))
        )
        for reading in range(1, 6):
            await station.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[
                        {
                            "timestamp": in_(reading * 60),
                            "sampledValue": [
                                {"value": str(reading * 250)},
                                {"value": "15000", "measurand": "Power.Active.Import"},
                            ],
                        }
                    ],
                )
            )
        path = f"/api/transactions/{started.transaction_id}/meter-values"
        await eventually(lambda: _points(api, path, 5), timeout=5)
        # Opened after the readings came: the chart can only come from the node's store.
        page = await signed_in(browser, node)
        await page.goto(f"{page.url.split('#')[0]}#/station/CON-CHART")
        figure = page.locator(f'figure[data-session="{started.transaction_id}"]')
        await expect(figure.locator("svg")).to_have_count(2)
        energy = await figure.locator("svg").first.locator("polyline").get_attribute("points")
        assert energy is not None and len(energy.split()) >= 6  # the start and five readings
        await expect(figure).to_contain_text("max 1250")


async def _points(api: Any, path: str, count: int) -> bool:
    answer = await api.get(path)  # 404 until the session reaches the read models
    return answer.status_code == 200 and len(answer.json()["points"]) >= count


async def _session_status(api: Any, station_id: str, status: str) -> bool:
    sessions = (await api.get(f"/api/transactions?station={station_id}")).json()
    return bool(sessions) and all(s["status"] == status for s in sessions)


async def test_a_page_opened_without_a_token_asks_for_it_and_401_sends_the_user_back(
    node: ServedNode, browser: Browser
) -> None:
    page = await browser.new_page()
    await page.goto(f"{node.api_url}/#/sessions")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("API token").fill("wrong")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#alerts")).to_contain_text("401")
    await page.get_by_label("API token").fill("test-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Charging sessions")).to_be_visible()
    assert "token" not in page.url


async def test_the_registry_pages_add_change_and_remove_through_the_api(
    node: ServedNode, browser: Browser
) -> None:
    async with node.client() as api:
        page = await signed_in(browser, node)
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        base = page.url.split("#")[0]
        await page.goto(f"{base}#/id-tags")
        await page.get_by_label("Id tag", exact=True).fill("CON-TAG")
        await page.get_by_role("button", name="Save tag").click()
        row = page.locator("#id-tags tr", has_text="CON-TAG")
        await expect(row).to_contain_text("Accepted")
        await row.get_by_role("button", name="Block CON-TAG").click()
        await expect(row).to_contain_text("Blocked")
        assert (await api.get("/api/id-tags")).json()[0]["status"] == "Blocked"
        await row.get_by_role("button", name="Delete CON-TAG").click()
        await expect(row).to_have_count(0)

        await page.goto(f"{base}#/registry")
        await page.get_by_label("Station id").fill("CON-REG")
        await page.get_by_label("Password (optional)").fill("s3cret")
        await page.get_by_role("button", name="Add station").click()
        row = page.locator("#registry tr", has_text="CON-REG")
        await expect(row).to_contain_text("set")
        # Adding it again is refused (409), and the page says so until dismissed.
        await page.get_by_label("Station id").fill("CON-REG")
        await page.get_by_role("button", name="Add station").click()
        await expect(page.locator("#alerts .alert", has_text="409")).to_be_visible()
        await row.get_by_role("button", name="Remove password").click()
        await expect(row).to_contain_text("none")
        registered = (await api.get("/api/registry/stations/CON-REG")).json()
        assert registered["has_password"] is False
        await row.get_by_role("button", name="Remove CON-REG").click()
        await expect(row).to_have_count(0)
        assert (await api.get("/api/registry/stations/CON-REG")).status_code == 404
