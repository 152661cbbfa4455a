"""What a station tells about itself, outside commands and sessions: its boot. Apart
from the other events because it belongs to the station's connection, not to a
command, a session or a holding."""

from __future__ import annotations

from dataclasses import dataclass

from chargeledger.domain.enums import RegistrationStatus
from chargeledger.domain.event import Event, added_later


@dataclass(frozen=True)
class StationBooted(Event):
    station_id: str
    registration: RegistrationStatus
    vendor: str
    model: str
    firmware_version: str | None
    booted_at: str
    serial_number: str | None = None
    """``chargePointSerialNumber`` (or the older ``chargeBoxSerialNumber``), if sent."""
    reason: str | None = added_later()
    """OCPP 2.0.1's boot reason (PowerUp, RemoteReset, FirmwareUpdate, ...), if sent."""
