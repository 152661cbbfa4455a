"""What still claims a connector, given what the station itself reports (the twin
snapshot): the station is the authority on its physical state.

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

from datetime import timedelta

from chargeledger.domain.enums import ConnectorStatus
from chargeledger.domain.remote_start_policy import TwinSnapshot
from chargeledger.domain.station_state import HeldConnector, OpenSession, StationState
from chargeledger.domain.timestamps import instant

FREE_STATUSES = frozenset({ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING})


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
