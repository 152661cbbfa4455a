"""The station twin: the mirror of the physical station, built from telemetry.

It is a read model, not an aggregate: updating it never appends to a stream (I5).
Connector 0 is the station as a whole, as OCPP 1.6 numbers it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from chargeledger.domain import station_reports as r
from chargeledger.domain.enums import ConnectorStatus


@dataclass(frozen=True, slots=True)
class ConnectorTwin:
    status: ConnectorStatus
    error_code: str
    info: str | None = None
    vendor_error_code: str | None = None
    timestamp: str | None = None
    """When the station says the status began (its clock), if it said."""
    received_at: str | None = None
    """When we received it (our clock)."""
    evse_connectors: tuple[tuple[int, ConnectorStatus], ...] = ()
    """OCPP 2.0.1: this is an EVSE, and these its connectors' own statuses."""


@dataclass(frozen=True, slots=True)
class StationTwin:
    station_id: str
    connected: bool = False
    last_heartbeat: str | None = None
    connectors: Mapping[int, ConnectorTwin] = field(default_factory=lambda: MappingProxyType({}))
    connection_epoch: int = 0
    diagnostics_status: str | None = None
    firmware_status: str | None = None
    reports: r.StationReports = r.NO_REPORTS
    """Firmware and diagnostics histories, DataTransfers, Authorizes, meter readings."""
    booted_at: str | None = None
    """When the station last sent a BootNotification (our clock)."""
    protocol: str | None = None
    """The OCPP version its connection speaks (the WebSocket subprotocol)."""

    def connector_status(self, connector_id: int) -> ConnectorStatus | None:
        connector = self.connectors.get(connector_id)
        return connector.status if connector else None


def connected(twin: StationTwin, epoch: int, protocol: str | None = None) -> StationTwin:
    """A connection older than the one we know changes nothing."""
    if epoch < twin.connection_epoch:
        return twin
    return replace(twin, connected=True, connection_epoch=epoch, protocol=protocol or twin.protocol)


def disconnected(twin: StationTwin, epoch: int) -> StationTwin:
    """A close from an older connection than the current one changes nothing."""
    if epoch != twin.connection_epoch:
        return twin
    return replace(twin, connected=False)


def heartbeat(twin: StationTwin, at: str) -> StationTwin:
    # Spelled out rather than dataclasses.replace: this runs for every heartbeat.
    return StationTwin(
        twin.station_id,
        twin.connected,
        at,
        twin.connectors,
        twin.connection_epoch,
        twin.diagnostics_status,
        twin.firmware_status,
        twin.reports,
        twin.booted_at,
        twin.protocol,
    )


def status_notified(
    twin: StationTwin,
    connector_id: int,
    status: str,
    error_code: str,
    info: str | None = None,
    vendor_error_code: str | None = None,
    timestamp: str | None = None,
    received_at: str | None = None,
) -> StationTwin:
    """``status``: a ``ConnectorStatus`` spelling (the message's schema checked it)."""
    updated = dict(twin.connectors)
    updated[connector_id] = ConnectorTwin(
        ConnectorStatus(status), error_code, info, vendor_error_code, timestamp, received_at
    )
    reports = r.status_notified(twin.reports, connector_id, status, error_code, received_at)
    return replace(
        twin, connectors=MappingProxyType(dict(sorted(updated.items()))), reports=reports
    )


MAX_CONNECTORS_PER_EVSE = 16
"""Connectors an EVSE may report (real ones have one to four); 256 EVSEs of 256
connectors each would make a twin of 65,536 entries."""

EVSE_STATUS_ORDER = (
    ConnectorStatus.FAULTED,
    ConnectorStatus.OCCUPIED,
    ConnectorStatus.RESERVED,
    ConnectorStatus.AVAILABLE,
    ConnectorStatus.UNAVAILABLE,
)
"""An EVSE reads as the first of these that one of its connectors reports."""


def evse_status_notified(
    twin: StationTwin,
    evse_id: int,
    connector_id: int,
    status: str,
    timestamp: str | None = None,
    received_at: str | None = None,
) -> StationTwin:
    """An OCPP 2.0.1 StatusNotification: a connector of an EVSE. The domain's connector
    is the EVSE (what 1.6 calls a connector), so the EVSE gets one status from its
    connectors' (a fault anywhere faults it, one connector in use occupies it)."""
    current = twin.connectors.get(evse_id)
    statuses = dict(current.evse_connectors if current else ())
    if connector_id not in statuses and len(statuses) >= MAX_CONNECTORS_PER_EVSE:
        return twin  # no EVSE has that many: a station's nonsense is not kept
    statuses[connector_id] = ConnectorStatus(status)
    ranked = [s for s in EVSE_STATUS_ORDER if s in statuses.values()]
    evse_status = ranked[0] if ranked else statuses[connector_id]
    updated = dict(twin.connectors)
    updated[evse_id] = ConnectorTwin(
        evse_status, "NoError", None, None, timestamp, received_at, tuple(sorted(statuses.items()))
    )
    return replace(twin, connectors=MappingProxyType(dict(sorted(updated.items()))))


def booted(twin: StationTwin, at: str) -> StationTwin:
    """A BootNotification: the statuses reported before it are from before the boot."""
    return replace(twin, booted_at=at)


def diagnostics_status_notified(
    twin: StationTwin, status: str, at: str | None = None
) -> StationTwin:
    reports = r.diagnostics_notified(twin.reports, status, at)
    return replace(twin, diagnostics_status=status, reports=reports)


def firmware_status_notified(twin: StationTwin, status: str, at: str | None = None) -> StationTwin:
    return replace(
        twin, firmware_status=status, reports=r.firmware_notified(twin.reports, status, at)
    )


def reported(
    twin: StationTwin, change: Callable[[r.StationReports], r.StationReports]
) -> StationTwin:
    """The twin with what else the station reported (``station_reports``)."""
    return replace(twin, reports=change(twin.reports))
