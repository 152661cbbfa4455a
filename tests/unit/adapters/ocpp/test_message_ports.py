"""Issue 12: the gateway's message handlers talk to the rest of the node through small
ports (``message_ports``), not the concrete ``TwinService`` and ``Dispatcher``: they
import neither, and they work over anything that keeps the ports."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from chargeledger.adapters.ocpp.handlers import StationMessages
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.message_ports import ReadyStations, StationTelemetry
from chargeledger.application.ports import StationLink
from chargeledger.domain import station_reports as r
from chargeledger.domain.json_object import JsonObject
from tests.fakes import OPEN_REGISTRATION, FakeClock
from tests.stores import MemoryEventStore

OCPP = Path(__file__).resolve().parents[4] / "src" / "chargeledger" / "adapters" / "ocpp"
CONCRETE = {"chargeledger.application.dispatcher", "chargeledger.application.twin_service"}


def test_the_1_6_handlers_import_no_concrete_twin_or_dispatcher() -> None:
    for name in ("handlers.py", "session_messages.py"):
        tree = ast.parse((OCPP / name).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert imported & CONCRETE == set(), name


class RecordingTelemetry:
    """Keeps ``StationTelemetry``: records what it was told, by method."""

    def __init__(self) -> None:
        self.told: list[tuple[str, tuple[Any, ...]]] = []

    def booted(self, station_id: str, at: str) -> None:
        self.told.append(("booted", (station_id,)))

    def heartbeat(self, station_id: str, at: str) -> None:
        self.told.append(("heartbeat", (station_id, at)))

    def status_notified(
        self,
        station_id: str,
        connector_id: int,
        status: str,
        error_code: str,
        info: str | None = None,
        vendor_error_code: str | None = None,
        timestamp: str | None = None,
        received_at: str | None = None,
    ) -> None:
        self.told.append(("status_notified", (station_id, connector_id, status)))

    def evse_status_notified(
        self, station_id: str, evse_id: int, connector_id: int, status: str, timestamp: str, at: str
    ) -> None:
        self.told.append(("evse_status_notified", (station_id, evse_id, connector_id, status)))

    def diagnostics_status_notified(
        self, station_id: str, status: str, at: str | None = None
    ) -> None:
        self.told.append(("diagnostics_status_notified", (station_id, status)))

    def firmware_status_notified(self, station_id: str, status: str, at: str | None = None) -> None:
        self.told.append(("firmware_status_notified", (station_id, status)))

    def data_transferred(
        self,
        station_id: str,
        vendor_id: str,
        message_id: str | None,
        data: str | None,
        answer: str,
        at: str,
    ) -> None:
        self.told.append(("data_transferred", (station_id, vendor_id, answer)))

    def authorized(self, station_id: str, id_tag: str, status: str, at: str) -> None:
        self.told.append(("authorized", (station_id, id_tag, status)))

    async def meter_values(
        self,
        station_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_value: list[JsonObject],
        seq_no: int | None = None,
    ) -> None:
        self.told.append(("meter_values", (station_id, connector_id, transaction_id)))

    def device_model_reported(self, station_id: str, reported: list[r.VariableReport]) -> None:
        self.told.append(("device_model_reported", (station_id,)))

    def noticed(self, station_id: str, notices: list[r.NoticeReport]) -> None:
        self.told.append(("noticed", (station_id,)))


class RecordingReady:
    """Keeps ``ReadyStations``: records the links it was told are ready."""

    def __init__(self) -> None:
        self.ready: list[str] = []

    async def station_ready(self, link: StationLink) -> None:
        self.ready.append(link.station_id)


def messages_over(telemetry: StationTelemetry, ready: ReadyStations) -> StationMessages:
    clock = FakeClock()
    handler = CommandHandler(MemoryEventStore(clock=clock), clock)
    return StationMessages(handler, telemetry, ready, clock, OPEN_REGISTRATION, 60)


async def test_a_boot_and_telemetry_reach_the_ports_and_what_waits_is_sent_after_the_answer() -> (
    None
):
    telemetry, ready = RecordingTelemetry(), RecordingReady()
    messages = messages_over(telemetry, ready)
    session = StationSession("CP1", 1, lambda text: None)
    reply = await messages.boot_notification(
        session, {"chargePointVendor": "v", "chargePointModel": "m"}
    )
    assert reply.payload["status"] == "Accepted"
    assert ready.ready == []  # not before the answer has gone out
    assert reply.after is not None
    await reply.after()
    assert ready.ready == ["CP1"]
    messages.status_notification(
        session, {"connectorId": 1, "status": "Charging", "errorCode": "NoError"}
    )
    messages.firmware_status_notification(session, {"status": "Installed"})
    assert telemetry.told == [
        ("booted", ("CP1",)),
        ("status_notified", ("CP1", 1, "Charging")),
        ("firmware_status_notified", ("CP1", "Installed")),
    ]
