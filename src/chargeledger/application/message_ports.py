"""Ports the OCPP gateway's message handlers call into, as Protocols (declared as in
``ports.py``, which is at its size bound): what a station's messages tell the twin,
and the dispatcher's side of a station whose registration was accepted. The handlers
are typed against these; the composition root passes ``TwinService`` and
``Dispatcher``."""

from __future__ import annotations

from typing import Protocol

from chargeledger.application.ports import StationLink
from chargeledger.domain import station_reports as r
from chargeledger.domain.json_object import JsonObject


class StationTelemetry(Protocol):
    """The station's twin as its messages feed it (I5: none of these touches a stream).
    ``at``, ``received_at``: our clock; ``timestamp``: the station's."""

    def booted(self, station_id: str, at: str) -> None:
        """A BootNotification: the statuses reported before it are from before the boot."""
        ...

    def heartbeat(self, station_id: str, at: str) -> None: ...

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
        """An OCPP 1.6 StatusNotification (``connector_id`` 0: the station as a whole)."""
        ...

    def evse_status_notified(
        self, station_id: str, evse_id: int, connector_id: int, status: str, timestamp: str, at: str
    ) -> None:
        """An OCPP 2.0.1 StatusNotification: a connector of an EVSE."""
        ...

    def diagnostics_status_notified(
        self, station_id: str, status: str, at: str | None = None
    ) -> None: ...

    def firmware_status_notified(
        self, station_id: str, status: str, at: str | None = None
    ) -> None: ...

    def data_transferred(
        self,
        station_id: str,
        vendor_id: str,
        message_id: str | None,
        data: str | None,
        answer: str,
        at: str,
    ) -> None:
        """A DataTransfer from the station, and what we answered."""
        ...

    def authorized(self, station_id: str, id_tag: str, status: str, at: str) -> None:
        """An Authorize from the station, and the verdict it got."""
        ...

    async def meter_values(
        self,
        station_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_value: list[JsonObject],
        seq_no: int | None = None,
    ) -> None:
        """Meter readings (telemetry: a session's energy is decided by its start and stop)."""
        ...

    def device_model_reported(self, station_id: str, reported: list[r.VariableReport]) -> None:
        """Variables an OCPP 2.0.1 station reported (NotifyReport)."""
        ...

    def noticed(self, station_id: str, notices: list[r.NoticeReport]) -> None:
        """Events an OCPP 2.0.1 station notified (NotifyEvent, SecurityEventNotification)."""
        ...


class ReadyStations(Protocol):
    """Where the station's commands wait for it (the dispatcher)."""

    async def station_ready(self, link: StationLink) -> None:
        """The station's registration is accepted on this connection: send what waits,
        and reconcile what an earlier connection or node left in doubt."""
        ...
