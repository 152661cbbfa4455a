"""A real browser for the console tests: Playwright driving Debian's Chromium
(``scripts/ensure-chromium.sh`` installs it; Playwright's own browser download cannot
work here). ``console.test`` resolves to 127.0.0.1 inside the browser only, so a test
can open the console under a name that is not a secure context while every byte stays
on loopback."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.e2e.conftest import TOKEN, ServedNode
from tests.e2e.profile_support import shared_node

CHROMIUM = os.environ.get("CHARGELEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
INSECURE_HOST = "console.test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1",
]


def _installed_chromium() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium.sh (make test does)")
    return CHROMIUM


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    executable = _installed_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, timeout=20_000
        )
        try:
            yield browser
        finally:
            await browser.close()


def console_url(node: ServedNode, host: str = "127.0.0.1") -> str:
    return node.api_url.replace("127.0.0.1", host, 1) + "/"


async def signed_in(browser: Browser, node: ServedNode, host: str = "127.0.0.1") -> Page:
    """A page of the console, signed in the way ``make serve`` prints it (``#token=``),
    with the live stream open."""
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(10_000)
    await page.goto(f"{console_url(node, host)}#token={TOKEN}")
    await page.locator("#stream-state.live").wait_for()
    return page


def console_fixtures(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """A console test module's ``browser`` and ``node`` fixtures: one Chromium and one
    served node (its store named ``name``) for the whole module. Assign them at module
    level: ``browser, node = console_fixtures("console-live")``."""

    @pytest_asyncio.fixture(scope="module", loop_scope="module")
    async def browser() -> AsyncIterator[Browser]:
        async with chromium() as launched:
            yield launched

    @pytest.fixture(scope="module")
    def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
        served = shared_node(tmp_path_factory, name)
        try:
            yield served
        finally:
            served.stop()

    return browser, node
