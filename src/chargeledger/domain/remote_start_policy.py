"""The domain service the remote-start decision consults about the physical station.

Its input is a snapshot of the station twin (the telemetry mirror), taken by the
application before deciding and passed on the command, so the decision stays a
pure function of its inputs (the seed's answer: consult a mirror of the physical
station, kept apart from the business aggregate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from chargeledger.domain.enums import ConnectorStatus
from chargeledger.domain.errors import ConnectorNotAvailableError, UnknownConnectorError
from chargeledger.domain.timestamps import instant

WHOLE_STATION = 0
REFUSING_STATUSES = frozenset({ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE})


DEFAULT_CONNECTION_TIMEOUT_S = 120.0
"""How long a station waits for a cable after accepting a remote start, when its
``ConnectionTimeOut`` is not known (the node's ``--connection-timeout``)."""


@dataclass(frozen=True)
class TwinSnapshot:
    """The last status the station reported per connector (0: the station as a whole).
    Empty when the station has reported nothing yet: nothing can be ruled out then.

    ``reported_at``: when we received each connector's status; ``booted_at``: when the
    station last booted (both by our clock); ``connection_timeout_s``: the station's
    ``ConnectionTimeOut`` when it reported it, else the node's default;
    ``number_of_connectors``: its ``NumberOfConnectors`` when it reported it."""

    connectors: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    reported_at: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    booted_at: str | None = None
    connection_timeout_s: float = DEFAULT_CONNECTION_TIMEOUT_S
    number_of_connectors: int | None = None
    """The station's ``NumberOfConnectors`` when it reported its configuration."""

    def knows_connectors(self) -> bool:
        return any(cid != WHOLE_STATION for cid in self.connectors)

    def reported_since(self, connector_id: int, since: str | None) -> bool:
        """Whether the connector's status was reported after ``since`` (our clock)."""
        at = self.reported_at.get(connector_id)
        return since is not None and at is not None and instant(at) >= instant(since)


NO_SNAPSHOT = TwinSnapshot()


def check_connector_exists(snapshot: TwinSnapshot, connector_id: int) -> None:
    """Refuse only a connector id the station told us it does not have: above its
    ``NumberOfConnectors`` when it reported that, else above the highest connector it
    sent a status for. Any other id is sent, and the station's answer tells."""
    if connector_id < 1:
        raise UnknownConnectorError(f"connector ids start at 1; got {connector_id}")
    most = snapshot.number_of_connectors
    if most is not None:
        if connector_id > most:
            raise UnknownConnectorError(
                f"the station reports NumberOfConnectors {most}, so it has no connector "
                f"{connector_id}; pick one of 1 to {most}"
            )
        return
    reported = [c for c in snapshot.connectors if c != WHOLE_STATION]
    if reported and connector_id > max(reported):
        raise UnknownConnectorError(
            f"the station reported connectors up to {max(reported)}, not {connector_id}; "
            "pick one of those (or read its NumberOfConnectors with get-configuration)"
        )


def check_remote_start(snapshot: TwinSnapshot, connector_id: int | None) -> None:
    """Refuse a remote start on a connector (or station) that reports Faulted or
    Unavailable; with no connector (the station picks), only the station's status counts."""
    targets = [(WHOLE_STATION, "the station")]
    if connector_id is not None:
        check_connector_exists(snapshot, connector_id)
        targets.append((connector_id, f"connector {connector_id}"))
    for target, label in targets:
        status = snapshot.connectors.get(target)
        if status in REFUSING_STATUSES:
            raise ConnectorNotAvailableError(
                f"{label} reports {status}; a remote start can go once it is Available"
            )
