"""The domain service the remote-start decision consults about the physical station.

Its input is a snapshot of the station twin (the telemetry mirror), taken by the
application before deciding and passed on the command, so the decision stays a
pure function of its inputs (the seed's answer: consult a mirror of the physical
station, kept apart from the business aggregate).

What still claims a connector, given what the station itself reports (the station
is the authority on its physical state):

- A session open on the connector claims it, unless the station rebooted after it
  started and has since reported the connector ``Available`` or ``Preparing``: then
  the station no longer runs it (killed mid-session, or reset by firmware that sends
  no StopTransaction). Such a session is *unconfirmed*: kept open for its late
  StopTransaction (or a StartTransaction that takes the connector), but it no longer
  blocks a remote start.
- A hold of an accepted remote start claims the connector until its session starts,
  its time to live runs out, the station reports the connector ``Available`` again
  after accepting (it gave up waiting for a cable), or the station's
  ``ConnectionTimeOut`` has passed since it accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

from chargeledger.domain.enums import ConnectorStatus
from chargeledger.domain.errors import ConnectorNotAvailableError, UnknownConnectorError
from chargeledger.domain.timestamps import instant

if TYPE_CHECKING:  # station_state imports the operations, which import this module
    from chargeledger.domain.station_state import HeldConnector, OpenSession, StationState

WHOLE_STATION = 0
REFUSING_STATUSES = frozenset({ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE})
FREE_STATUSES = frozenset({ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING})


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


def station_lost(session: OpenSession, state: StationState, twin: TwinSnapshot) -> bool:
    """Whether the station, rebooted since the session began, reports its connector free."""
    if session.unconfirmed:
        return True
    return (
        session.boot < state.boots
        and twin.connectors.get(session.connector_id) in FREE_STATUSES
        and twin.reported_since(session.connector_id, twin.booted_at)
    )


def blocking_session(
    state: StationState, twin: TwinSnapshot, connector_id: int
) -> OpenSession | None:
    """The session that keeps the connector busy, if any."""
    session = state.session_on(connector_id)
    if session is None or station_lost(session, state, twin):
        return None
    return session


def hold_is_live(held: HeldConnector, twin: TwinSnapshot, now: str) -> bool:
    """Whether an accepted remote start still holds its connector at ``now``."""
    if instant(now) >= instant(held.expires_at):
        return False
    if held.accepted_at is None:
        return True
    if twin.connectors.get(held.connector_id) == ConnectorStatus.AVAILABLE and twin.reported_since(
        held.connector_id, held.accepted_at
    ):
        return False
    gave_up = instant(held.accepted_at) + timedelta(seconds=twin.connection_timeout_s)
    return instant(now) < gave_up
