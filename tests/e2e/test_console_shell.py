"""The operator console as a whole (issue 15): nothing fetched from anywhere but the node
(every asset ships in the package), every page readable at 1280x800 and on a phone
without sideways scrolling, every control labelled, and a command sent by keyboard
alone. Chromium against a real ``chargeledger serve``, as in ``test_console.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.browser import console_fixtures
from tests.e2e.conftest import TOKEN, ServedNode
from tests.e2e.profile_support import ready_station
from tests.e2e.test_console import ended_on_screen

pytestmark = [pytest.mark.timeout(90), pytest.mark.asyncio(loop_scope="module")]

STATION = "SHELL-1"
ROUTES = {
    "overview": "Stations",
    "sessions": "Charging sessions",
    "commands": "Commands",
    "id-tags": "Id tags",
    "registry": "Station registry",
    "reservations": "Reservations",
    "charging-profiles": "Stored charging profiles",
    f"station/{STATION}": f"Station {STATION}",
}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]'))
  .filter((el) => {
    const labels = [...(el.labels || [])].map((l) => l.textContent.trim()).join('');
    const by = el.getAttribute('aria-labelledby');
    const named = labels || el.getAttribute('aria-label') || el.title
      || (by && document.getElementById(by) && document.getElementById(by).textContent.trim())
      || (el.tagName === 'BUTTON' && el.textContent.trim());
    return !named;
  })
  .map((el) => el.outerHTML.slice(0, 160))"""


browser, node = console_fixtures("console-shell")


async def each_page(page: Page, node: ServedNode) -> AsyncIterator[str]:
    await page.goto(f"{node.api_url}/#token={TOKEN}")
    await page.locator("#stream-state.live").wait_for()
    for route, heading in ROUTES.items():
        await page.goto(f"{node.api_url}/#/{route}")
        await expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
        yield route


async def test_nothing_is_fetched_from_anywhere_but_the_node(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, STATION):
        page = await browser.new_page(viewport=DESKTOP)
        page.set_default_timeout(10_000)
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        async for _ in each_page(page, node):
            pass
        elsewhere = [url for url in asked if not url.startswith((node.api_url, "data:", "blob:"))]
        assert elsewhere == []
        assert f"{node.api_url}/console/app.js" in asked
        assert f"{node.api_url}/console/app.css" in asked
    # What the node serves is what the package ships (no build step, no CDN copy).
    static = resources.files("chargeledger.entrypoints").joinpath("static")
    async with node.client() as api:
        for name in ("app.js", "app.css"):
            served = await api.get(f"/console/{name}")
            assert served.status_code == 200
            assert served.text == static.joinpath(name).read_text()
        assert (await api.get("/")).text == static.joinpath("index.html").read_text()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x800", "phone"])
async def test_every_page_fits_the_screen_without_sideways_scrolling(
    node: ServedNode, browser: Browser, viewport: dict[str, int]
) -> None:
    async with ready_station(node, STATION):
        page = await browser.new_page(viewport=viewport)  # type: ignore[arg-type]
        page.set_default_timeout(10_000)
        too_wide: dict[str, Any] = {}
        async for route in each_page(page, node):
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            if overflow > 0:
                too_wide[route] = overflow
        assert too_wide == {}


async def test_every_control_is_labelled_and_a_command_goes_by_keyboard_alone(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, STATION) as station, node.client() as api:
        await api.put("/api/id-tags/KEY-TAG", json={"status": "Accepted"})
        page = await browser.new_page(viewport=DESKTOP)
        page.set_default_timeout(10_000)
        unlabelled: dict[str, list[str]] = {}
        async for route in each_page(page, node):
            found = await page.evaluate(UNLABELLED)
            if found:
                unlabelled[route] = found
        assert unlabelled == {}

        # A page opened puts the keyboard in its content (the header's links are behind
        # a "Skip to content" link otherwise).
        await page.goto(f"{node.api_url}/#/station/{STATION}")
        await expect(page.locator('form[data-command="remote-start"]')).to_be_visible()
        assert await page.evaluate("document.activeElement.id") == "view"
        await expect(page.locator("a.skip")).to_have_attribute("href", "#view")
        await page.locator("#cmd-remote-start-connector_id").focus()
        await page.keyboard.type("1")
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "cmd-remote-start-id_tag"
        await page.keyboard.type("KEY-TAG")
        await page.keyboard.press("Enter")
        entry = page.locator("#progress-list li").first
        command_id = await entry.get_attribute("data-command-id", timeout=5000)
        assert command_id is not None
        assert await ended_on_screen(page, command_id) == "accepted"
        assert station.of("RemoteStartTransaction") == [{"connector_id": 1, "id_tag": "KEY-TAG"}]


async def test_the_token_stays_for_the_session_and_a_401_later_asks_for_it_again(
    node: ServedNode, browser: Browser
) -> None:
    page = await browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(10_000)
    await page.goto(f"{node.api_url}/#token={TOKEN}")
    await page.locator("#stream-state.live").wait_for()
    assert "token" not in page.url
    await page.goto(f"{node.api_url}/#/id-tags")
    await page.reload()  # kept for the browser session: no need to enter it again
    await expect(page.get_by_role("heading", name="Id tags")).to_be_visible()
    await page.locator("#stream-state.live").wait_for()
    # The node no longer takes what the page holds (say, the token was changed): the
    # next request's 401 brings the sign-in back, and signing in returns to the page.
    await page.evaluate("sessionStorage.setItem('chargeledger.token', 'revoked')")
    await page.get_by_label("Id tag", exact=True).fill("AFTER-401")
    await page.get_by_role("button", name="Save tag").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.locator("#alerts")).to_contain_text("401")
    await page.get_by_label("API token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Id tags")).to_be_visible()
    assert "token" not in page.url


async def test_each_command_form_has_the_fields_of_its_published_body_schema(
    node: ServedNode, browser: Browser
) -> None:
    async with ready_station(node, STATION), node.client() as api:
        document = (await api.get("/openapi.json")).json()
        post = document["paths"]["/api/stations/{station_id}/commands/{name}"]["post"]
        bodies = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
        # The forms are those of the operations the station's version (1.6) has.
        published = {
            body["title"]: (
                {
                    name
                    for name, field in body["properties"].items()
                    if "ocpp1.6" in field.get("x-ocpp-versions", ["ocpp1.6"])
                },
                set(body.get("required", [])),
            )
            for body in bodies
            if "ocpp1.6" in body["x-ocpp-versions"]
        }
        assert len(published) < len(bodies)  # 2.0.1's own operations are not offered
        page = await browser.new_page(viewport=DESKTOP)
        page.set_default_timeout(10_000)
        async for _ in each_page(page, node):
            pass  # ends on the station page
        forms = page.locator(".command-forms form")
        await expect(forms).to_have_count(19)
        shown: dict[str, tuple[set[str], set[str]]] = {}
        for form in await forms.all():
            name = await form.get_attribute("data-command")
            assert name is not None
            fields = await form.locator("[name]").evaluate_all(
                "l => l.map(e => [e.name, e.required])"
            )
            title = "".join(word.capitalize() for word in name.split("-")) + "Body"
            shown[title] = ({f for f, _ in fields}, {f for f, required in fields if required})
        assert shown == published
