"""Reservations (OCPP 1.6 Reservation profile) as business decisions on the station.

Rules, each with a given/when/then test (tests/unit/domain/test_reservations*.py):

- ReserveNow reserves a connector, or with connector 0 the station as a whole, for
  an id tag until its expiry date, which must lie after the time of the request
  (``ExpiryInThePast``). The reservation counts from the request on; the station's
  Accepted confirms it (``ReservationConfirmed``); any other answer, or none, ends
  it (``ReservationEnded`` rejected / failed).
- A live reservation (not yet expired) refuses a remote start or a reservation of
  another id tag on its connector (``ConnectorReserved``). A whole-station one
  refuses them when granting them would leave no free connector for it (a free
  connector: reported by the twin, not charging, not held by a remote start, not
  reserved); when the twin knows no connectors, none is counted free.
- The same id tag reserving its connector again changes that reservation (same
  reservation id, OCPP's replacement); the old one stands until the station
  accepts the change (``ReservationChangeRefused`` otherwise). While a ReserveNow
  for it is on its way, the same request again is that request, another one is
  refused (``CommandPending``).
- CancelReservation needs a confirmed live reservation (``ReservationNotFound``,
  ``CommandPending``); the station's Accepted ends it (cancelled).
- A StartTransaction naming the reservation, or without one by the reserving id tag
  on its connector (or any connector, for the whole station), uses it up (used).
- At its expiry date it ends (expired); a ReserveNow still waiting to be sent then
  expires with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain import operations
from chargeledger.domain.enums import CommandStatus, Outcome, ReservationEndReason
from chargeledger.domain.errors import (
    CommandPendingError,
    ConnectorReservedError,
    ExpiryInThePastError,
    ReservationNotFoundError,
)
from chargeledger.domain.remote_start_policy import (
    WHOLE_STATION,
    TwinSnapshot,
    check_connector_exists,
    hold_is_live,
    station_lost,
)
from chargeledger.domain.station_state import (
    OpenCommand,
    Reservation,
    StationState,
)
from chargeledger.domain.timestamps import instant

RESERVE_NOW = operations.RESERVE_NOW.name
CANCEL_RESERVATION = operations.CANCEL_RESERVATION.name


def is_live(reservation: Reservation, now: str) -> bool:
    return instant(now) < instant(reservation.expiry_date)


def _others(state: StationState, id_tag: str, now: str) -> list[Reservation]:
    return [r for r in state.reservations.values() if r.id_tag != id_tag and is_live(r, now)]


def _free_connectors(state: StationState, twin: TwinSnapshot, now: str, besides: int) -> int:
    """Connectors the twin reports, other than ``besides``, that nothing holds."""
    taken = {s.connector_id for s in state.sessions.values() if not station_lost(s, state, twin)}
    taken |= {h.connector_id for h in state.held_connectors.values() if hold_is_live(h, twin, now)}
    taken |= {
        cmd.connector_id
        for cmd in state.open_commands.values()
        if cmd.name == operations.REMOTE_START.name and cmd.connector_id is not None
    }
    taken |= {r.connector_id for r in state.reservations.values() if is_live(r, now)}
    known = {cid for cid in twin.connectors if cid != WHOLE_STATION}
    return len(known - taken - {besides})


def check_not_reserved(
    state: StationState, twin: TwinSnapshot, connector_id: int | None, id_tag: str, now: str
) -> None:
    """Refuse a remote start or reservation of ``id_tag`` that a live reservation of
    another id tag forbids. A remote start without a connector (the station picks)
    takes one connector, any: it needs one free beside those reserved as a whole."""
    others = _others(state, id_tag, now)
    for reservation in others:
        if connector_id is not None and reservation.connector_id == connector_id != WHOLE_STATION:
            raise ConnectorReservedError(
                f"connector {connector_id} is reserved (reservation "
                f"{reservation.reservation_id}) for another id tag until "
                f"{reservation.expiry_date}; use another connector or cancel the reservation"
            )
    whole = [r for r in others if r.whole_station]
    besides = WHOLE_STATION if connector_id is None else connector_id
    needed = len(whole) + (1 if connector_id in (WHOLE_STATION, None) else 0)
    if whole and _free_connectors(state, twin, now, besides) < needed:
        first = whole[0]
        raise ConnectorReservedError(
            f"the station is reserved as a whole (reservation {first.reservation_id}) for "
            f"another id tag until {first.expiry_date}, and no other connector would stay "
            "free for it; wait, or cancel the reservation"
        )


def _same_tag(command: c.RequestReserveNow, state: StationState, now: str) -> Reservation | None:
    for reservation in state.reservations.values():
        if (
            reservation.connector_id == command.connector_id
            and reservation.id_tag == command.id_tag
            and is_live(reservation, now)
        ):
            return reservation
    return None


def _open_request(reservation: Reservation, state: StationState) -> OpenCommand | None:
    """The ReserveNow still on its way for ``reservation``, if any."""
    command_id = reservation.changing_by or (
        None if reservation.confirmed else reservation.command_id
    )
    return state.open_commands.get(command_id) if command_id else None


def _asks_the_same(command: c.RequestReserveNow, open_command: OpenCommand) -> bool:
    return (
        open_command.payload.get("expiry_date") == command.expiry_date
        and open_command.payload.get("parent_id_tag") == command.parent_id_tag
    )


def same_reservation_request(command: c.RequestReserveNow, state: StationState) -> str | None:
    """The id of the open ReserveNow this one repeats, if any."""
    reservation = _same_tag(command, state, command.requested_at)
    if reservation is None:
        return None
    open_command = _open_request(reservation, state)
    if open_command is not None and _asks_the_same(command, open_command):
        return open_command.command_id
    return None


def decide_reserve_now(command: c.RequestReserveNow, state: StationState) -> list[e.Event]:
    if instant(command.expiry_date) <= instant(command.requested_at):
        raise ExpiryInThePastError(
            f"expiry_date {command.expiry_date} is not after now ({command.requested_at}); "
            "send a time in the future"
        )
    if command.connector_id != WHOLE_STATION:
        check_connector_exists(command.twin, command.connector_id)
    changed = _same_tag(command, state, command.requested_at)
    if changed is not None:
        open_command = _open_request(changed, state)
        if open_command is not None:
            if _asks_the_same(command, open_command):
                return []
            raise CommandPendingError(
                f"reserve-now {open_command.command_id} for reservation "
                f"{changed.reservation_id} is still pending; wait for its outcome"
            )
    check_not_reserved(
        state, command.twin, command.connector_id, command.id_tag, command.requested_at
    )
    return [
        e.ReserveNowRequested(
            command_id=command.command_id,
            requested_at=command.requested_at,
            expires_at=command.expires_at,
            reservation_id=changed.reservation_id if changed else command.reservation_id,
            connector_id=command.connector_id,
            expiry_date=command.expiry_date,
            id_tag=command.id_tag,
            parent_id_tag=command.parent_id_tag,
            replaces=changed is not None,
        )
    ]


def check_cancel(command: c.RequestCancelReservation, state: StationState) -> None:
    reservation = state.reservations.get(command.reservation_id)
    if reservation is None and command.reservation_id in state.ended_reservations:
        raise ReservationNotFoundError(
            f"reservation {command.reservation_id} has ended (cancelled, used or expired): "
            "the station no longer holds it; see GET /api/reservations"
        )
    if reservation is None:
        return  # not one we made: the station knows; its answer tells
    if not reservation.confirmed:
        raise CommandPendingError(
            f"reservation {command.reservation_id} is not confirmed yet; wait for the outcome "
            f"of reserve-now {reservation.command_id}"
        )


def after_outcome(
    target: OpenCommand, outcome: Outcome, result: Mapping[str, Any], state: StationState
) -> list[e.Event]:
    """What a reserve-now's or cancel-reservation's outcome decides of the reservation."""
    if target.name not in (RESERVE_NOW, CANCEL_RESERVATION):
        return []
    reservation = state.reservations.get(int(target.payload["reservation_id"]))
    if reservation is None:
        return []  # it ended meanwhile (expired, used)
    if target.name == CANCEL_RESERVATION:
        if outcome != Outcome.ACCEPTED:
            return []
        return [
            _ended(
                reservation,
                ReservationEndReason.CANCELLED,
                detail=f"cancelled by {target.command_id}",
            )
        ]
    if outcome == Outcome.ACCEPTED:
        return [
            e.ReservationConfirmed(
                reservation_id=reservation.reservation_id,
                connector_id=int(target.payload["connector_id"]),
                id_tag=str(target.payload["id_tag"]),
                expiry_date=str(target.payload["expiry_date"]),
                confirmed_by=target.command_id,
            )
        ]
    if reservation.changing_by == target.command_id:
        return [
            e.ReservationChangeRefused(
                reservation_id=reservation.reservation_id, refused_by=target.command_id
            )
        ]
    answer = result.get("status")
    if outcome == Outcome.REJECTED:
        return [
            _ended(
                reservation, ReservationEndReason.REJECTED, detail=f"the station answered {answer}"
            )
        ]
    return [_ended(reservation, ReservationEndReason.FAILED, detail=f"reserve-now ended {outcome}")]


def _ended(
    reservation: Reservation,
    reason: ReservationEndReason,
    transaction_id: int | None = None,
    detail: str = "",
) -> e.ReservationEnded:
    return e.ReservationEnded(
        reservation_id=reservation.reservation_id,
        connector_id=reservation.connector_id,
        reason=reason,
        transaction_id=transaction_id,
        detail=detail,
    )


def used_by(command: c.StartTransaction, state: StationState) -> list[e.Event]:
    """The reservation a StartTransaction uses up, if any."""
    reservation = state.reservations.get(command.reservation_id or -1)
    if reservation is None and command.reservation_id is None:
        candidates = [
            r
            for r in state.reservations.values()
            if r.id_tag == command.id_tag and r.connector_id in (command.connector_id, 0)
        ]
        reservation = min(candidates, key=lambda r: r.connector_id == 0, default=None)
    if reservation is None or not _live_when_started(reservation, command.timestamp):
        return []  # an expired one is ended by the sweep, not used
    detail = f"used by transaction {command.transaction_id} on connector {command.connector_id}"
    return [_ended(reservation, ReservationEndReason.USED, command.transaction_id, detail)]


def _live_when_started(reservation: Reservation, started_at: str) -> bool:
    """By the station's own clock; a time we cannot read gives it the benefit."""
    try:
        return is_live(reservation, started_at)
    except ValueError:
        return True


def decide_expire(command: c.ExpireReservation, state: StationState) -> list[e.Event]:
    reservation = state.reservations.get(command.reservation_id)
    if reservation is None or is_live(reservation, command.now):
        return []
    ended = _ended(
        reservation, ReservationEndReason.EXPIRED, detail=f"expired at {reservation.expiry_date}"
    )
    return _with_waiting_ended(ended, reservation, state)


def decide_reported_end(command: c.EndReservationAsReported, state: StationState) -> list[e.Event]:
    """The station says it ended the reservation: it ends here too (a repeat, or one we
    no longer hold, decides nothing)."""
    reservation = state.reservations.get(command.reservation_id)
    if reservation is None:
        return []
    expired = command.status == "Expired"
    reason = ReservationEndReason.EXPIRED if expired else ReservationEndReason.CANCELLED
    detail = f"the station reports it {command.status.lower()}"
    return _with_waiting_ended(_ended(reservation, reason, detail=detail), reservation, state)


def _with_waiting_ended(
    ended: e.ReservationEnded, reservation: Reservation, state: StationState
) -> list[e.Event]:
    decided: list[e.Event] = [ended]
    # Both the ReserveNow that made it and one changing it may still wait for the
    # station: left open, a late change would reserve a connector we no longer list.
    for command_id in (reservation.command_id, reservation.changing_by):
        waiting = state.open_commands.get(command_id) if command_id else None
        if waiting is not None and waiting.status == CommandStatus.REQUESTED:
            decided.append(
                e.CommandExpired(
                    waiting.command_id,
                    "the reservation expired before the station could be reached",
                )
            )
    return decided
