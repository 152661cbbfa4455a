"""The station decider: ``initial_state``, ``decide(command, state)``, ``evolve(state, event)``
(the state and ``evolve`` live in ``station_state``, the session decisions in
``charging_sessions``; this module decides the rest and is the one to import).

Only business lives here: registration, operator commands and their outcomes,
and charging sessions. Heartbeats and status notifications are telemetry and go
to the twin, so they never move this stream's version (invariant I5); what the
twin knows reaches a decision only as a snapshot on the command.

Rules, each with a given/when/then test:

- A boot registers the station: Accepted when the registry knows it, otherwise as
  the unknown-station policy says (accept, pending, reject).
- A Rejected station refuses every operator command; a Pending one refuses remote
  starts (``StationNotRegistered``).
- One command per target at a time: a second request of the same kind for the same
  target (connector, transaction, the station's or an EVSE's reset, the station's
  overlapping its EVSEs') with the same arguments is the same request and decides
  nothing; with other arguments it is refused (``ConnectorNotAvailable`` for a remote
  start, ``CommandPending`` otherwise).
- A remote start holds its connector from request until the station starts the
  session, or until the command ends without acceptance, or its time to live runs
  out. The same id tag asking again meanwhile is the same request (the seed's "same
  session id"); another tag is refused. A connector that is charging, or that the
  twin reports Faulted or Unavailable, refuses a remote start.
- A StartTransaction always records a session (a station cannot be refused one);
  one with the connector, id tag, meter start and timestamp of an open session is a
  retransmission and decides nothing. A session still open on the connector is
  abandoned first, so a connector never has two open sessions. A session that
  starts on a connector held by a sent or accepted remote start of the same id tag
  is linked to that command.
- MeterValues and StopTransaction need an open (or abandoned) session, else
  ``TransactionNotFound``.
- A remote stop is refused (``TransactionNotFound``) only for a transaction the
  station is known not to run: one that was stopped, closed or abandoned (the
  refusal says how and when), or one of another station. A transaction id the CSMS
  has never heard of is sent, as OCPP leaves our knowledge incomplete (a session
  started offline is reported later): the station's answer decides.
- Every command ends in exactly one outcome; a dispatch is recorded at most once
  per request; expiry never ends a command already sent.
- The other operations of the six OCPP 1.6 profiles follow the same path; their
  arguments are checked in ``operations`` (charging profiles in
  ``charging_profiles``), reservations are decided in ``reservations`` and the
  local authorization list in ``local_list``, whose outcomes decide more business
  events beside the command's own outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain import local_list, reservations
from chargeledger.domain.charging_sessions import (
    decide_meter_values,
    decide_start,
    decide_stop,
    retransmitted_start,
)
from chargeledger.domain.enums import (
    CommandStatus,
    Outcome,
    RegistrationStatus,
    UnknownStations,
)
from chargeledger.domain.errors import (
    CommandNotFoundError,
    CommandPendingError,
    ConnectorNotAvailableError,
    DomainError,
    IdTagNotAcceptedError,
    InvalidCommandError,
    StationNotRegisteredError,
    TransactionNotFoundError,
)
from chargeledger.domain.operations import OPERATIONS, name_of, operation_for
from chargeledger.domain.operations.arguments import Span
from chargeledger.domain.remote_start_policy import (
    TwinSnapshot,
    blocking_session,
    check_remote_start,
    hold_is_live,
)
from chargeledger.domain.station_state import (
    ABANDONED_KEPT,
    REMOTE_START,
    HeldConnector,
    OpenCommand,
    OpenSession,
    StationState,
    evolve,
    fold,
    initial_state,
)
from chargeledger.domain.transaction_events import decide_transaction_event

__all__ = [
    "ABANDONED_KEPT",
    "REMOTE_START",
    "HeldConnector",
    "OpenCommand",
    "OpenSession",
    "StationState",
    "decide",
    "evolve",
    "fold",
    "initial_state",
    "retransmitted_start",
    "same_request",
]

ACCEPTED = RegistrationStatus.ACCEPTED
PENDING = RegistrationStatus.PENDING
REJECTED = RegistrationStatus.REJECTED


def decide(command: c.Command, state: StationState) -> list[e.Event]:
    """The events a command decides on this state, or a ``DomainError``."""
    match command:
        case c.RegisterBoot():
            return [_boot(command)]
        case c.OperatorCommand():
            decided = _decide_operator_command(command, state)
            if not decided:
                joined = same_request(command, state)
                if joined is not None and joined != command.command_id:
                    # Recorded, so that this request's id reads back as the one it joined.
                    return [e.CommandMerged(command.command_id, joined)]
            return decided
        case c.MarkDispatched():
            return _decide_dispatch(command, state)
        case c.RecordOutcome():
            return _decide_outcome(command, state)
        case c.StartTransaction():
            return decide_start(command, state)
        case c.RecordMeterValues():
            return decide_meter_values(command, state)
        case c.StopTransaction():
            return decide_stop(command, state)
        case c.RecordTransactionEvent():
            return decide_transaction_event(command, state)
        case c.ExpireReservation():
            return reservations.decide_expire(command, state)
        case c.EndReservationAsReported():
            return reservations.decide_reported_end(command, state)
        case c.CloseTransaction():
            return _close(command, state)
    raise TypeError(f"no decision for {type(command).__name__}")


def registration_for(known_station: bool, unknown_stations: UnknownStations) -> RegistrationStatus:
    """The registry's verdict, or for an id it does not know, the node's policy."""
    if known_station or unknown_stations == UnknownStations.ACCEPT:
        return ACCEPTED
    return REJECTED


def _boot(command: c.RegisterBoot) -> e.StationBooted:
    if command.unknown_stations not in tuple(UnknownStations):
        raise InvalidCommandError(f"unknown-station policy {command.unknown_stations!r}")
    return e.StationBooted(
        station_id=command.station_id,
        registration=registration_for(command.known_station, command.unknown_stations),
        vendor=command.vendor,
        model=command.model,
        firmware_version=command.firmware_version,
        booted_at=command.booted_at,
        serial_number=command.serial_number,
        reason=command.reason,
    )


# --- operator commands -------------------------------------------------------------


def requested_event(
    command: c.OperatorCommand, state: StationState = initial_state
) -> e.CommandRequested:
    """The ``...Requested`` event an operator command would open, arguments checked."""
    return operation_for(command).requested(command, state)


def same_request(command: c.OperatorCommand, state: StationState) -> str | None:
    """The id of the open (or connector-holding) command that this one repeats, if any."""
    if isinstance(command, c.RequestReserveNow):
        return reservations.same_reservation_request(command, state)
    try:
        wanted = requested_event(command, state)
    except DomainError:
        return None
    holder = _holder(wanted, state, command.requested_at, command.twin)
    if holder is not None and holder[1] == wanted.payload():
        return holder[0]
    return None


def _holder(
    wanted: e.CommandRequested, state: StationState, now: str, twin: TwinSnapshot
) -> tuple[str, Mapping[str, Any]] | None:
    """The command holding the slot ``wanted`` needs: (its id, its payload)."""
    operation = OPERATIONS[name_of(wanted)]
    slot = operation.slot_of(wanted.payload())
    for open_command in state.open_commands.values():
        if open_command.name == operation.name and _overlap(
            operation.slot_of(open_command.payload), slot
        ):
            return open_command.command_id, open_command.payload
    if isinstance(wanted, e.RemoteStartRequested) and wanted.connector_id is not None:
        held = state.held_connectors.get(wanted.connector_id)
        if held is not None and hold_is_live(held, twin, now):
            return held.command_id, {"connector_id": held.connector_id, "id_tag": held.id_tag}
    return None


def _overlap(held: tuple[Any, ...], wanted: tuple[Any, ...]) -> bool:
    """Two slots of one operation: the same, or either the whole station's."""
    return held == wanted or Span.WHOLE_STATION in held or Span.WHOLE_STATION in wanted


def _decide_operator_command(command: c.OperatorCommand, state: StationState) -> list[e.Event]:
    _check_registration(command, state)
    if isinstance(command, c.RequestReserveNow):
        return reservations.decide_reserve_now(command, state)
    wanted = requested_event(command, state)
    holder = _holder(wanted, state, command.requested_at, command.twin)
    if holder is not None:
        held_by, held_payload = holder
        if held_payload == wanted.payload():
            return []  # the same request again: the one on its way stands
        if isinstance(wanted, e.RemoteStartRequested):
            raise ConnectorNotAvailableError(
                f"connector {wanted.connector_id} is held by remote start {held_by} "
                "for another id tag; wait for it to end"
            )
        raise CommandPendingError(
            f"{name_of(wanted)} {held_by} is still pending for this target; wait for its outcome"
        )
    decided: list[e.Event] = []
    if isinstance(command, c.RequestRemoteStart):
        decided += _check_free_for_remote_start(command, state)
    if isinstance(command, c.RequestRemoteStop):
        _check_station_may_run(command, state)
    if isinstance(command, c.RequestCancelReservation):
        reservations.check_cancel(command, state)
    return [*decided, wanted]


def _check_registration(command: c.OperatorCommand, state: StationState) -> None:
    if state.registration == REJECTED:
        raise StationNotRegisteredError(
            "the station's last BootNotification was rejected; register it, then let it boot"
        )
    if state.registration == PENDING and isinstance(
        command, c.RequestRemoteStart | c.RequestReserveNow
    ):
        raise StationNotRegisteredError(
            "the station's registration is Pending; accept it before starting sessions or reserving"
        )


def _check_station_may_run(command: c.RequestRemoteStop, state: StationState) -> None:
    """Refuse a remote stop only of a transaction we know the station does not run:
    one that ended here, or one of another station. One we have never heard of is
    sent: the station may run a session it has not reported yet, and it answers."""
    transaction_id, recorded = command.transaction_id, command.recorded
    if transaction_id in state.sessions:
        return  # open (or unconfirmed: the station may still run it)
    ended = state.ended_sessions.get(transaction_id)
    if ended is not None:
        raise _ended_refusal(transaction_id, ended.how, ended.at, ended.reason)
    if recorded is not None and not recorded.on_this_station:
        raise TransactionNotFoundError(
            f"transaction {transaction_id} runs on station {recorded.station_id}, "
            "not this one; send the remote stop there"
        )
    if recorded is not None and recorded.status != "open":  # ended before our memory
        raise _ended_refusal(
            transaction_id, recorded.status, recorded.ended_at, recorded.ended_because
        )


def _ended_refusal(
    transaction_id: int, how: str, at: str | None, reason: str | None
) -> TransactionNotFoundError:
    since = f" since {at}" if at else ""
    because = f" ({reason})" if reason else ""
    return TransactionNotFoundError(
        f"transaction {transaction_id} is {how}{since}{because}; the station no longer runs it"
    )


def _check_free_for_remote_start(
    command: c.RequestRemoteStart, state: StationState
) -> list[e.Event]:
    """Refuse a busy connector or a tag the registry refuses; a session the station
    lost is marked unconfirmed."""
    status = command.id_tag_status
    if status is not None and status != "Accepted" and not command.force:
        raise IdTagNotAcceptedError(
            f"id tag {command.id_tag!r} is {status} in the id-tag registry: the station "
            'would stop the session at once; fix the tag, or send "force": true'
        )
    check_remote_start(command.twin, command.connector_id)
    reservations.check_not_reserved(
        state, command.twin, command.connector_id, command.id_tag, command.requested_at
    )
    if command.connector_id is None:
        return []  # the station picks a connector: it knows which are free
    session = blocking_session(state, command.twin, command.connector_id)
    if session is not None:
        raise ConnectorNotAvailableError(
            f"connector {command.connector_id} is charging in transaction "
            f"{session.transaction_id}; stop it first (or, if the station no longer runs "
            f"it, close it: POST /api/transactions/{session.transaction_id}/close)"
        )
    lost = state.session_on(command.connector_id)
    if lost is None or lost.unconfirmed:
        return []
    status = command.twin.connectors.get(command.connector_id)
    return [
        e.TransactionUnconfirmed(
            transaction_id=lost.transaction_id,
            connector_id=lost.connector_id,
            reason=f"the station rebooted and reports connector {lost.connector_id} {status}",
        )
    ]


def _close(command: c.CloseTransaction, state: StationState) -> list[e.Event]:
    session = state.sessions.get(command.transaction_id)
    if session is None:
        raise TransactionNotFoundError(
            f"no open transaction {command.transaction_id} on this station; "
            "only an open or unconfirmed session can be closed"
        )
    if not command.reason.strip():
        raise InvalidCommandError("give a reason for closing the session")
    return [
        e.TransactionClosed(
            transaction_id=session.transaction_id,
            connector_id=session.connector_id,
            reason=command.reason,
            closed_at=command.closed_at,
        )
    ]


def _decide_dispatch(command: c.MarkDispatched, state: StationState) -> list[e.Event]:
    target = state.open_commands.get(command.target_command_id)
    if target is None:
        return []  # ended: nothing may be sent
    sendable = target.status == CommandStatus.REQUESTED or (
        command.redispatch
        and target.status == CommandStatus.DISPATCHED
        and command.attempt == target.attempt + 1
    )
    if not sendable:
        return []  # already dispatched: a repeat must not send it twice
    return [
        e.CommandDispatched(
            command_id=command.target_command_id,
            attempt=command.attempt,
            connection_epoch=command.connection_epoch,
            dispatched_at=command.dispatched_at,
        )
    ]


def _outcome_event(command: c.RecordOutcome) -> e.Event:
    target, at = command.target_command_id, command.answered_at
    match command.outcome:
        case Outcome.ACCEPTED:
            return e.CommandAccepted(target, command.result, command.detail, at)
        case Outcome.REJECTED:
            return e.CommandRejected(target, command.result, command.detail, at)
        case Outcome.TIMED_OUT:
            return e.CommandTimedOut(target, command.detail, at)
        case Outcome.EXPIRED:
            return e.CommandExpired(target, command.detail, at)
    return e.CommandFailed(target, command.detail, command.error_code, at)


def _decide_outcome(command: c.RecordOutcome, state: StationState) -> list[e.Event]:
    if command.outcome not in set(Outcome):
        raise InvalidCommandError(f"unknown outcome {command.outcome!r}")
    target = state.open_commands.get(command.target_command_id)
    if target is None:
        raise CommandNotFoundError(f"command {command.target_command_id} is not open")
    if command.outcome == Outcome.EXPIRED and target.status != CommandStatus.REQUESTED:
        return []  # already on its way to the station: its answer decides, not the clock
    follow_ups = [
        *reservations.after_outcome(target, command.outcome, command.result, state),
        *local_list.after_outcome(target, command.outcome, command.result, state),
    ]
    return [_outcome_event(command), *follow_ups]
