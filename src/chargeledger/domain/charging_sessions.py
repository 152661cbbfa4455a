"""Charging sessions on the station aggregate: StartTransaction, MeterValues within a
transaction, StopTransaction.

A station cannot be refused a session: a StartTransaction always records one (its
id tag's verdict goes into the answer), unless it repeats an open session's
connector, id tag, meter start and timestamp, which makes it a retransmission. A
session still open on the connector is abandoned first, so a connector never has
two open sessions. A session that starts on a connector held by a sent or accepted
remote start of the same id tag is linked to that command.

A StopTransaction without ``reason`` stopped for ``Local`` (OCPP 1.6 §6.49). Its energy
is the sum of the rises between the session's register readings in order (meter
start, the readings it sent, meter stop): ``meter_stop - meter_start`` when they
never go down; otherwise the session carries an ``energy_anomaly`` and only the
rises count, so the energy is never negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.enums import CommandStatus, StopReason
from chargeledger.domain.errors import TransactionNotFoundError
from chargeledger.domain.reservations import used_by
from chargeledger.domain.station_state import OpenSession, StationState
from chargeledger.domain.timestamps import instant


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
            station_transaction_id=command.station_transaction_id,
            seq_no=command.seq_no,
            offline=command.offline,
        )
    )
    return [*decided, *used_by(command, state)]


def retransmitted_start(command: c.StartTransaction, state: StationState) -> OpenSession | None:
    """The open session this StartTransaction repeats (same connector, id tag, meter
    start and timestamp, whatever its OCPP message id), if any. A 2.0.1 transaction is
    named by the station, so only its name makes a repeat (``transaction_tracks``)."""
    if command.station_transaction_id is not None:
        return None
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
    picked = state.picked_by_station.get(command.id_tag)
    if held is None and picked is not None and _before(command.timestamp, picked.expires_at):
        return picked.command_id  # a remote start that let the station pick the connector
    # The station may start the session before its "Accepted" answer is recorded.
    pending = state.pending_remote_start(command.connector_id, command.id_tag)
    if (
        pending is not None
        and pending.status == CommandStatus.DISPATCHED
        and pending.id_tag == command.id_tag
        and not pending.linked
    ):
        return pending.command_id
    return None


def _before(timestamp: str, deadline: str) -> bool:
    try:
        return instant(timestamp) < instant(deadline)
    except ValueError:
        return False


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
    energy, anomaly = (None, None)
    if session is not None:
        # The readings the stop carries; else the last one sent in a MeterValues.
        readings = register_readings(command.transaction_data) or register_readings(
            [command.last_reading] if command.last_reading else []
        )
        energy, anomaly = session_energy(session.meter_start, readings, command.meter_stop)
    return [
        e.TransactionStopped(
            transaction_id=command.transaction_id,
            connector_id=session.connector_id if session else 0,
            meter_stop=command.meter_stop,
            stopped_at=command.timestamp,
            id_tag=command.id_tag,
            id_tag_status=info.status if info else None,
            id_tag_expiry=info.expiry if info else None,
            reason=command.reason or DEFAULT_STOP_REASON,
            transaction_data=command.transaction_data,
            energy_wh=energy,
            energy_anomaly=anomaly,
            station_transaction_id=command.station_transaction_id,
            seq_no=command.seq_no,
            offline=command.offline,
        )
    ]


DEFAULT_STOP_REASON = StopReason.LOCAL
"""OCPP 1.6 §6.49: a StopTransaction without a reason was stopped locally."""

ENERGY_REGISTER = "Energy.Active.Import.Register"
MAX_READING_WH = 1e15
"""A register reading at or beyond this (a petawatt-hour), or not finite, is no reading."""


def register_readings(meter_values: Iterable[Mapping[str, Any]]) -> list[int]:
    """The energy register readings (Wh) in OCPP ``MeterValue`` items, in order. A
    sampled value without a measurand is the register (OCPP 1.6's default); kWh are
    converted; a value that is not a number is skipped."""
    readings: list[int] = []
    for meter_value in meter_values:
        sampled = meter_value.get("sampledValue", meter_value.get("sampled_value")) or []
        for value in sampled:
            if not isinstance(value, Mapping):
                continue
            if value.get("measurand", ENERGY_REGISTER) != ENERGY_REGISTER:
                continue
            if value.get("phase"):
                continue
            try:
                number = float(value.get("value", ""))
            except (TypeError, ValueError):
                continue
            unit = value.get("unit") or (value.get("unitOfMeasure") or {}).get("unit")
            wh = number * (1000.0 if unit == "kWh" else 1.0)
            if not abs(wh) < MAX_READING_WH:  # NaN, infinities and absurd registers too
                continue
            readings.append(round(wh))
    return readings


def session_energy(
    meter_start: int, readings: Iterable[int], meter_stop: int
) -> tuple[int, str | None]:
    """``(energy_wh, anomaly)``: the rises between consecutive readings from start to
    stop; the anomaly says where the register went down (``None`` when it never did)."""
    energy = 0
    drops: list[str] = []
    previous = meter_start
    sequence = [*readings, meter_stop]
    for index, reading in enumerate(sequence):
        if reading >= previous:
            energy += reading - previous
        else:
            what = "meter_stop" if index == len(sequence) - 1 else "a reading"
            drops.append(f"{what} {reading} is below {previous}")
        previous = reading
    if not drops:
        return energy, None
    return energy, "the register went down (" + "; ".join(drops) + "); only its rises count"
