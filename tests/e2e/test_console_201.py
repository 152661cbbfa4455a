"""The console's station page for an OCPP 2.0.1 station (issue 17): it offers every
operation 2.0.1 has, each form with every field of its published body, reset's
``evse_id`` included (a 1.6 station's page leaves it out: ``test_console_shell``)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.browser import console_fixtures, signed_in
from tests.e2e.conftest import ServedNode, connected_station
from tests.e2e.station201 import connected_201

pytestmark = [pytest.mark.timeout(90), pytest.mark.asyncio(loop_scope="module")]

browser, node = console_fixtures("console-201")


async def test_a_2_0_1_station_s_page_offers_every_2_0_1_operation_with_all_its_fields(
    node: ServedNode, browser: Browser
) -> None:
    async with connected_201(node, "CON-201") as station, node.client() as api:
        await station.boot()
        await station.status(1, 1, "Available")
        document = (await api.get("/openapi.json")).json()
        post = document["paths"]["/api/stations/{station_id}/commands/{name}"]["post"]
        bodies = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
        published = {
            body["title"]: set(body["properties"])
            for body in bodies
            if "ocpp2.0.1" in body["x-ocpp-versions"]
        }
        assert len(published) == len(bodies) == 25  # 2.0.1 says every operation
        page = await signed_in(browser, node)
        await page.goto(f"{node.api_url}/#/station/CON-201")
        forms = page.locator(".command-forms form")
        await expect(forms).to_have_count(25)
        shown: dict[str, set[str]] = {}
        for form in await forms.all():
            name = await form.get_attribute("data-command")
            assert name is not None
            fields = await form.locator("[name]").evaluate_all("l => l.map(e => e.name)")
            shown["".join(word.capitalize() for word in name.split("-")) + "Body"] = set(fields)
        assert shown == published
        assert "evse_id" in shown["ResetBody"]


TRIGGERS_16 = [
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
]
"""OCPP 1.6's MessageTrigger (TriggerMessage.req, §7.38), in the order the body has it."""
ONLY_201 = {
    "LogStatusNotification",
    "TransactionEvent",
    "SignChargingStationCertificate",
    "SignV2GCertificate",
    "SignCombinedCertificate",
    "PublishFirmwareStatusNotification",
}
"""What only 2.0.1's MessageTriggerEnumType has (it has 1.6's others, and calls
DiagnosticsStatusNotification LogStatusNotification)."""


async def test_trigger_message_offers_each_station_only_its_own_version_s_messages(
    node: ServedNode, browser: Browser
) -> None:
    async with (
        connected_201(node, "TRG-201") as new,
        connected_station(node, "TRG-16") as old,
    ):
        await new.boot()
        await old.boot()
        page = await signed_in(browser, node)
        wanted = {
            "TRG-16": sorted(TRIGGERS_16),
            "TRG-201": sorted(set(TRIGGERS_16) - {"DiagnosticsStatusNotification"} | ONLY_201),
        }
        for station_id, values in wanted.items():
            # The console is one page: a new hash renders the station's forms anew, so
            # wait for the form to show as many messages as this station's version has
            # (the previous station's form, or one drawn before the protocol was known,
            # would otherwise be read).
            await page.goto(f"{node.api_url}/#/station/{station_id}")
            select = page.locator(
                'form[data-command="trigger-message"] select[name="requested_message"]'
            )
            await expect(select).to_have_count(1)
            options = select.locator("option")
            await expect(options).to_have_count(len(values))
            offered = await options.evaluate_all("l => l.map(o => o.value)")
            assert sorted(offered) == values, station_id
