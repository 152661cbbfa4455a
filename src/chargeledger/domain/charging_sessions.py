"""Charging sessions on the station aggregate: StartTransaction, MeterValues within a
transaction, StopTransaction.

A station cannot be refused a session: a StartTransaction always records one (its
id tag's verdict goes into the answer), unless it repeats an open session's
connector, id tag, meter start and timestamp, which makes it a retransmission. A
session still open on the connector is abandoned first, so a connector never has
two open sessions. A session that starts on a connector held by a sent or accepted
remote start of the same id tag is linked to that command.
"""

from __future__ import annotations

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import TransactionNotFoundError
from chargeledger.domain.reservations import used_by
from chargeledger.domain.station_state import DISPATCHED, OpenSession, StationState


def decide_start(command: c.StartTransaction, state: StationState) -> list[e.Event]:
    if retransmitted_start(command, state) is not None:
        return []
    decided: list[e.Event] = []
    previous = state.session_on(command.connector_id)
    if previous is not None:
        decided.append(
            e.TransactionAbandoned(
                transaction_id=previous.transaction_id,
                connector_id=previous.connector_id,
                superseded_by=command.transaction_id,
            )
        )
    decided.append(
        e.TransactionStarted(
            transaction_id=command.transaction_id,
            connector_id=command.connector_id,
            id_tag=command.id_tag,
            id_tag_status=command.id_tag_info.status,
            id_tag_expiry=command.id_tag_info.expiry,
            meter_start=command.meter_start,
            started_at=command.timestamp,
            reservation_id=command.reservation_id,
            remote_start_command_id=_remote_start_behind(command, state),
        )
    )
    return [*decided, *used_by(command, state)]


def retransmitted_start(command: c.StartTransaction, state: StationState) -> OpenSession | None:
    """The open session this StartTransaction repeats (same connector, id tag, meter
    start and timestamp, whatever its OCPP message id), if any."""
    for session in state.sessions.values():
        if (
            session.connector_id == command.connector_id
            and session.id_tag == command.id_tag
            and session.meter_start == command.meter_start
            and session.started_at == command.timestamp
        ):
            return session
    return None


def _remote_start_behind(command: c.StartTransaction, state: StationState) -> str | None:
    held = state.held_connectors.get(command.connector_id)
    if held is not None and held.id_tag == command.id_tag:
        return held.command_id
    # The station may start the session before its "Accepted" answer is recorded.
    pending = state.pending_remote_start(command.connector_id)
    if (
        pending is not None
        and pending.status == DISPATCHED
        and pending.id_tag == command.id_tag
        and not pending.linked
    ):
        return pending.command_id
    return None


def decide_meter_values(command: c.RecordMeterValues, state: StationState) -> list[e.Event]:
    if command.transaction_id not in state.sessions:
        raise TransactionNotFoundError(
            f"meter values for transaction {command.transaction_id}, which is not open here"
        )
    return [
        e.MeterValuesRecorded(
            transaction_id=command.transaction_id,
            connector_id=command.connector_id,
            meter_value=command.meter_value,
        )
    ]


def decide_stop(command: c.StopTransaction, state: StationState) -> list[e.Event]:
    session = state.sessions.get(command.transaction_id)
    if session is None and command.transaction_id not in state.abandoned:
        raise TransactionNotFoundError(
            f"transaction {command.transaction_id} is not open on this station"
        )
    info = command.id_tag_info
    return [
        e.TransactionStopped(
            transaction_id=command.transaction_id,
            connector_id=session.connector_id if session else 0,
            meter_stop=command.meter_stop,
            stopped_at=command.timestamp,
            id_tag=command.id_tag,
            id_tag_status=info.status if info else None,
            id_tag_expiry=info.expiry if info else None,
            reason=command.reason,
            transaction_data=command.transaction_data,
        )
    ]
