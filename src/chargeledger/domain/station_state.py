"""The station aggregate's state, and how each event changes it (``evolve``).

The deciders in ``station`` and ``charging_sessions`` read this state; only
``evolve`` builds it, so replaying the stream always gives the same state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from chargeledger.domain import events as e
from chargeledger.domain import operations
from chargeledger.domain.enums import (
    AuthorizationStatus,
    CommandStatus,
    RegistrationStatus,
)
from chargeledger.domain.local_list_state import LocalList, installed
from chargeledger.domain.transaction_tracks import TrackedTransaction, corrected, tracked_after

REMOTE_START = operations.REMOTE_START.name

ABANDONED_KEPT = 16
"""How many abandoned sessions a station remembers for a late StopTransaction."""


@dataclass(frozen=True)
class OpenCommand:
    """A station command decided but not yet ended."""

    command_id: str
    name: str
    status: CommandStatus
    """``REQUESTED`` or ``DISPATCHED``: an ended command is no longer open."""
    payload: Mapping[str, Any]
    expires_at: str
    attempt: int = 0
    linked: bool = False
    """A remote start whose session already began (the StartTransaction came first)."""

    @property
    def connector_id(self) -> int | None:
        value = self.payload.get("connector_id")
        return value if isinstance(value, int) else None

    @property
    def id_tag(self) -> str | None:
        value = self.payload.get("id_tag")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class HeldConnector:
    """A connector held by a remote start the station accepted, until its session starts."""

    command_id: str
    connector_id: int
    id_tag: str
    expires_at: str
    accepted_at: str | None = None
    """When the station accepted (our clock; ``None`` in older events)."""


@dataclass(frozen=True)
class OpenSession:
    transaction_id: int
    connector_id: int
    id_tag: str
    meter_start: int
    started_at: str
    id_tag_status: AuthorizationStatus
    id_tag_expiry: str | None = None
    remote_start_command_id: str | None = None
    boot: int = 0
    """How many boots the station had recorded when the session started."""
    unconfirmed: bool = False
    """The station reported the connector free after a boot: it no longer runs it."""
    station_transaction_id: str | None = None
    """OCPP 2.0.1: the station's own id of the transaction."""


@dataclass(frozen=True)
class EndedSession:
    """A session that ended here (``stopped``, ``closed`` or ``abandoned``): the
    station no longer runs it. ``at``: when, if the event says; ``reason``: why."""

    transaction_id: int
    how: Literal["stopped", "closed", "abandoned"]
    at: str | None
    reason: str


ENDED_SESSIONS_KEPT = 100
"""How many ended sessions a station remembers to refuse a remote stop of; older
ones are known from the transactions view."""


@dataclass(frozen=True)
class Reservation:
    """A reservation requested or confirmed, until it ends. ``connector_id`` 0: the
    station as a whole. ``changing_by``: a ReserveNow changing it is on its way."""

    reservation_id: int
    connector_id: int
    id_tag: str
    expiry_date: str
    command_id: str
    confirmed: bool = False
    changing_by: str | None = None

    @property
    def whole_station(self) -> bool:
        return self.connector_id == 0


_EMPTY: Mapping[Any, Any] = MappingProxyType({})
ENDED_RESERVATIONS_KEPT = 100


@dataclass(frozen=True)
class StationState:
    registration: RegistrationStatus | None = None
    open_commands: Mapping[str, OpenCommand] = field(default_factory=lambda: _EMPTY)
    held_connectors: Mapping[int, HeldConnector] = field(default_factory=lambda: _EMPTY)
    picked_by_station: Mapping[str, HeldConnector] = field(default_factory=lambda: _EMPTY)
    """Accepted remote starts that left the connector to the station, by id tag: they
    hold no connector, but the session that follows is linked to them."""
    sessions: Mapping[int, OpenSession] = field(default_factory=lambda: _EMPTY)
    abandoned: tuple[int, ...] = ()
    ended_sessions: Mapping[int, EndedSession] = field(default_factory=lambda: _EMPTY)
    """The last sessions that ended here, by transaction id."""
    reservations: Mapping[int, Reservation] = field(default_factory=lambda: _EMPTY)
    ended_reservations: tuple[int, ...] = ()
    """The last reservations that ended here: the station no longer holds them."""
    local_list: LocalList = field(default_factory=LocalList)
    boots: int = 0
    station_transactions: Mapping[str, TrackedTransaction] = field(default_factory=lambda: _EMPTY)
    """OCPP 2.0.1 transactions by the station's id: ours, and the seqNos recorded."""

    def pending_remote_start(self, connector_id: int, id_tag: str) -> OpenCommand | None:
        """The open remote start for this connector, or else one of this id tag that
        left the connector to the station."""
        picked = None
        for command in self.open_commands.values():
            if command.name != REMOTE_START:
                continue
            if command.connector_id == connector_id:
                return command
            if command.connector_id is None and command.id_tag == id_tag:
                picked = command
        return picked

    def session_on(self, connector_id: int) -> OpenSession | None:
        for session in self.sessions.values():
            if session.connector_id == connector_id:
                return session
        return None


initial_state = StationState()


def evolve(state: StationState, event: e.Event) -> StationState:
    """The state after one event. Total: an event that changes nothing returns ``state``."""
    match event:
        case e.StationBooted():
            return replace(state, registration=event.registration, boots=state.boots + 1)
        case e.CommandRequested():
            return _requested(state, event)
        case e.CommandDispatched():
            target = state.open_commands.get(event.command_id)
            if target is None:
                return state
            dispatched = replace(target, status=CommandStatus.DISPATCHED, attempt=event.attempt)
            return replace(
                state, open_commands=_with(state.open_commands, event.command_id, dispatched)
            )
        case e.CommandAccepted():
            return _ended(state, event.command_id, accepted=True, at=event.answered_at)
        case e.CommandRejected() | e.CommandTimedOut() | e.CommandExpired() | e.CommandFailed():
            return _ended(state, event.command_id, accepted=False)
        case e.TransactionStarted():
            return _started(state, event)
        case e.TransactionStartCorrected():
            return corrected(state, event)
        case e.TransactionAbandoned():
            taken = f"transaction {event.superseded_by} took its connector"
            return replace(
                state,
                sessions=_without(state.sessions, event.transaction_id),
                abandoned=(*state.abandoned, event.transaction_id)[-ABANDONED_KEPT:],
                ended_sessions=_ended_session(
                    state, EndedSession(event.transaction_id, "abandoned", None, taken)
                ),
            )
        case e.TransactionUnconfirmed():
            session = state.sessions.get(event.transaction_id)
            if session is None:
                return state
            unconfirmed = replace(session, unconfirmed=True)
            return replace(state, sessions=_with(state.sessions, event.transaction_id, unconfirmed))
        case e.TransactionClosed():
            closed = EndedSession(
                event.transaction_id, "closed", event.closed_at, f"closed by hand: {event.reason}"
            )
            return replace(
                state,
                sessions=_without(state.sessions, event.transaction_id),
                abandoned=(*state.abandoned, event.transaction_id)[-ABANDONED_KEPT:],
                ended_sessions=_ended_session(state, closed),
            )
        case e.TransactionStopped():
            state = replace(state, station_transactions=tracked_after(state, event))
            stopped = EndedSession(
                event.transaction_id,
                "stopped",
                event.stopped_at,
                f"stop reason {event.reason or 'Local'}",  # none given: Local (OCPP 1.6 §6.49)
            )
            return replace(
                state,
                sessions=_without(state.sessions, event.transaction_id),
                abandoned=tuple(t for t in state.abandoned if t != event.transaction_id),
                ended_sessions=_ended_session(state, stopped),
            )
        case e.ReservationEnded():
            ended = (*state.ended_reservations, event.reservation_id)[-ENDED_RESERVATIONS_KEPT:]
            return replace(
                state,
                reservations=_reservations_after(state.reservations, event),
                ended_reservations=ended,
            )
        case e.ReservationConfirmed() | e.ReservationChangeRefused():
            return replace(state, reservations=_reservations_after(state.reservations, event))
        case e.LocalListInstalled():
            return replace(state, local_list=installed(state.local_list, event))
        case e.LocalListOutOfSync():
            version = state.local_list.version
            if event.station_version is not None:
                version = event.station_version
            return replace(state, local_list=LocalList(version, None))
    return state


def _reserved(
    reservations: Mapping[int, Reservation], event: e.ReserveNowRequested
) -> Mapping[int, Reservation]:
    current = reservations.get(event.reservation_id)
    if event.replaces and current is not None:
        return _with(
            reservations, current.reservation_id, replace(current, changing_by=event.command_id)
        )
    opened = Reservation(
        event.reservation_id, event.connector_id, event.id_tag, event.expiry_date, event.command_id
    )
    return _with(reservations, event.reservation_id, opened)


def _reservations_after(
    reservations: Mapping[int, Reservation],
    event: e.ReservationConfirmed | e.ReservationChangeRefused | e.ReservationEnded,
) -> Mapping[int, Reservation]:
    if isinstance(event, e.ReservationEnded):
        return _without(reservations, event.reservation_id)
    current = reservations.get(event.reservation_id)
    if current is None:
        return reservations
    if isinstance(event, e.ReservationChangeRefused):
        return _with(reservations, current.reservation_id, replace(current, changing_by=None))
    confirmed = Reservation(
        event.reservation_id,
        event.connector_id,
        event.id_tag,
        event.expiry_date,
        event.confirmed_by,
        confirmed=True,
    )
    return _with(reservations, event.reservation_id, confirmed)


def _requested(state: StationState, event: e.CommandRequested) -> StationState:
    opened = OpenCommand(
        command_id=event.command_id,
        name=operations.name_of(event),
        status=CommandStatus.REQUESTED,
        payload=MappingProxyType(event.payload()),
        expires_at=event.expires_at,
    )
    held = state.held_connectors
    if isinstance(event, e.RemoteStartRequested):
        held = _without(held, event.connector_id)  # a lapsed hold gives way
    reservations = state.reservations
    if isinstance(event, e.ReserveNowRequested):
        reservations = _reserved(reservations, event)
    return replace(
        state,
        open_commands=_with(state.open_commands, event.command_id, opened),
        held_connectors=held,
        reservations=reservations,
    )


def _ended(
    state: StationState, command_id: str, accepted: bool, at: str | None = None
) -> StationState:
    target = state.open_commands.get(command_id)
    if target is None:
        return state
    held, picked = state.held_connectors, state.picked_by_station
    connector, tag = target.connector_id, target.id_tag
    if accepted and target.name == REMOTE_START and not target.linked and tag:
        if connector:
            held = _with(
                held, connector, HeldConnector(command_id, connector, tag, target.expires_at, at)
            )
        else:
            picked = _with(picked, tag, HeldConnector(command_id, 0, tag, target.expires_at, at))
    return replace(
        state,
        open_commands=_without(state.open_commands, command_id),
        held_connectors=held,
        picked_by_station=picked,
    )


def _started(state: StationState, event: e.TransactionStarted) -> StationState:
    session = OpenSession(
        transaction_id=event.transaction_id,
        connector_id=event.connector_id,
        id_tag=event.id_tag,
        meter_start=event.meter_start,
        started_at=event.started_at,
        id_tag_status=event.id_tag_status,
        id_tag_expiry=event.id_tag_expiry,
        remote_start_command_id=event.remote_start_command_id,
        boot=state.boots,
        station_transaction_id=event.station_transaction_id,
    )
    open_commands = state.open_commands
    linked = open_commands.get(event.remote_start_command_id or "")
    if linked is not None:
        open_commands = _with(open_commands, linked.command_id, replace(linked, linked=True))
    picked = state.picked_by_station
    left_to_station = picked.get(event.id_tag)
    if left_to_station is not None and left_to_station.command_id == event.remote_start_command_id:
        picked = _without(picked, event.id_tag)
    return replace(
        state,
        sessions=_with(state.sessions, event.transaction_id, session),
        held_connectors=_without(state.held_connectors, event.connector_id),
        picked_by_station=picked,
        open_commands=open_commands,
        station_transactions=tracked_after(state, event),
    )


def _ended_session(state: StationState, ended: EndedSession) -> Mapping[int, EndedSession]:
    """The ended sessions with this one last (a late stop replaces a close), bounded."""
    kept = [s for s in state.ended_sessions.values() if s.transaction_id != ended.transaction_id]
    kept = [*kept[-(ENDED_SESSIONS_KEPT - 1) :], ended]
    return MappingProxyType({s.transaction_id: s for s in kept})


def _with(mapping: Mapping[Any, Any], key: Any, value: Any) -> Mapping[Any, Any]:
    updated = dict(mapping)
    updated[key] = value
    return MappingProxyType(updated)


def _without(mapping: Mapping[Any, Any], key: Any) -> Mapping[Any, Any]:
    if key not in mapping:
        return mapping
    return MappingProxyType({k: v for k, v in mapping.items() if k != key})


def fold(events: Iterable[e.Event], state: StationState = initial_state) -> StationState:
    for event in events:
        state = evolve(state, event)
    return state
