"""OCPP 1.6 station-initiated messages, translated: payload in, command or telemetry
out, answer back. Nothing else happens here.

``StationMessages.handlers`` maps each action to its handler. A handler takes the
session and the (already validated) payload and returns a ``Reply``, or an
awaitable of one when it must wait (the command handler). Telemetry handlers answer
at once, without a task, which keeps heartbeats cheap. The business messages
(``session_messages``) arrive through the constructor's ``business``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ocpp.v16.enums import DataTransferStatus

from chargeledger.adapters.ocpp.options import LOGGER_NAME
from chargeledger.adapters.ocpp.schemas import OCPP16
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.command_handler import CommandHandler, stream_of
from chargeledger.application.message_ports import ReadyStations, StationTelemetry
from chargeledger.application.ports import Clock
from chargeledger.application.registry import RegistrationPolicy
from chargeledger.domain.commands import RegisterBoot
from chargeledger.domain.enums import RegistrationStatus
from chargeledger.domain.timestamps import iso_z

log = logging.getLogger(LOGGER_NAME)

AfterReply = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class Reply:
    payload: dict[str, Any]
    after: AfterReply | None = None
    """Runs once the answer has gone out (e.g. send what waited for a boot)."""


Handler = Callable[[StationSession, dict[str, Any]], Reply | Awaitable[Reply]]

EMPTY = Reply({})


class StationMessages:
    def __init__(
        self,
        handler: CommandHandler,
        twin: StationTelemetry,
        dispatcher: ReadyStations,
        clock: Clock,
        registration: RegistrationPolicy,
        heartbeat_interval_s: int,
        business: Mapping[str, Handler] | None = None,
        data_transfer_vendors: frozenset[str] = frozenset(),
        boot_grace_s: float = 2.0,
    ) -> None:
        self._handler = handler
        self._twin = twin
        self._dispatcher = dispatcher
        self._clock = clock
        self._heartbeat_interval_s = heartbeat_interval_s
        self._registration = registration
        self._vendors = data_transfer_vendors
        self._boot_grace_s = boot_grace_s
        self.handlers: dict[str, Handler] = {
            "BootNotification": self.boot_notification,
            "Heartbeat": self.heartbeat,
            "StatusNotification": self.status_notification,
            "DataTransfer": self.data_transfer,
            "DiagnosticsStatusNotification": self.diagnostics_status_notification,
            "FirmwareStatusNotification": self.firmware_status_notification,
            **(business or {}),  # Authorize, Start/StopTransaction, MeterValues: session_messages
        }
        self._by_protocol: dict[str, Mapping[str, Handler]] = {OCPP16: self.handlers}

    def speak(self, protocol: str, handlers: Mapping[str, Handler]) -> None:
        """Serve the stations of another OCPP version with ``handlers`` (``v201``)."""
        self._by_protocol[protocol] = handlers

    def handlers_for(self, protocol: str) -> Mapping[str, Handler]:
        """The handlers of a connection's version (none for a version not spoken here)."""
        return self._by_protocol.get(protocol, {})

    def _now(self) -> str:
        return iso_z(self._clock.now())

    async def boot_notification(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        return await self.register_boot(
            session,
            vendor=payload["chargePointVendor"],
            model=payload["chargePointModel"],
            firmware_version=payload.get("firmwareVersion"),
            serial_number=payload.get("chargePointSerialNumber")
            or payload.get("chargeBoxSerialNumber"),
        )

    async def register_boot(
        self,
        session: StationSession,
        vendor: str,
        model: str,
        firmware_version: str | None,
        serial_number: str | None,
        reason: str | None = None,
    ) -> Reply:
        """A boot of either version: recorded, answered, and once accepted what waits
        for the station goes out after the answer."""
        session.booting = True
        now = self._now()
        self._twin.booted(session.station_id, now)
        # The registry's answer and the station's state are read at the same time (a
        # station that reconnects to another node is not in that node's cache).
        known, _ = await asyncio.gather(
            self._registration.known(session.station_id), self._handler.warm(session.station_id)
        )
        result = await self._handler.execute(
            session.station_id,
            RegisterBoot(
                command_id=f"boot/{uuid.uuid4()}",
                station_id=session.station_id,
                known_station=known,
                unknown_stations=self._registration.unknown_stations,
                vendor=vendor,
                model=model,
                firmware_version=firmware_version,
                booted_at=now,
                serial_number=serial_number,
                reason=reason,
            ),
        )
        registration = result.state.registration or RegistrationStatus.REJECTED
        # Here, not from the log: the node holding the connection logs it, with the address.
        log.info(
            "station booted: vendor %s, model %s, firmware %s; registration %s",
            vendor,
            model,
            firmware_version or "?",
            registration,
            extra={"station": session.station_id},
        )

        async def send_what_waits() -> None:
            if session.fenced:
                return  # a newer connection took over while we answered
            session.registered = True
            await self._dispatcher.station_ready(session)

        return Reply(
            {"status": registration, "currentTime": now, "interval": self._heartbeat_interval_s},
            after=send_what_waits if registration == RegistrationStatus.ACCEPTED else None,
        )

    async def resume(self, session: StationSession) -> None:
        """A station that reconnects without booting keeps its accepted registration:
        OCPP 1.6 (4.2) has it send BootNotification only when it (re)boots. After a
        short grace, in which a rebooting station sends its boot and that boot decides,
        what waits for it goes out on this connection. A boot that arrived but is not
        answered yet (a reconnect storm) decides too: loading the station's stream here
        as well would double the storm's reads."""
        await asyncio.sleep(self._boot_grace_s)
        if session.registered or session.booting or session.fenced or session.closed:
            return
        state, _ = await self._handler.load(stream_of(session.station_id))
        if state.registration == RegistrationStatus.ACCEPTED and not (
            session.registered or session.booting or session.fenced
        ):
            session.registered = True
            await self._dispatcher.station_ready(session)

    def heartbeat(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        now = self._now()
        self._twin.heartbeat(session.station_id, now)
        return Reply({"currentTime": now})

    def status_notification(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        self._twin.status_notified(
            session.station_id,
            payload["connectorId"],
            payload["status"],
            payload["errorCode"],
            payload.get("info"),
            payload.get("vendorErrorCode"),
            payload.get("timestamp"),
            self._now(),
        )
        return EMPTY

    def data_transfer(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        # No vendor extension is implemented; a configured vendor id is acknowledged
        # (Accepted) so that its stations stop retrying, and kept in the twin.
        known = payload["vendorId"] in self._vendors
        answer = DataTransferStatus.accepted if known else DataTransferStatus.unknown_vendor_id
        self._twin.data_transferred(
            session.station_id,
            payload["vendorId"],
            payload.get("messageId"),
            payload.get("data"),
            answer,
            self._now(),
        )
        return Reply({"status": answer})

    def diagnostics_status_notification(
        self, session: StationSession, payload: dict[str, Any]
    ) -> Reply:
        self._twin.diagnostics_status_notified(session.station_id, payload["status"], self._now())
        return EMPTY

    def firmware_status_notification(
        self, session: StationSession, payload: dict[str, Any]
    ) -> Reply:
        self._twin.firmware_status_notified(session.station_id, payload["status"], self._now())
        return EMPTY
