"""The read models' documents: their names and keys, and what the view of a command,
a charging session and a station is after one event.

Kept apart from the projection that writes them (``projections``) because the query
side, the dispatcher and telemetry read the same documents: they share these names
and keys without depending on how a batch of the log is turned into writes.
"""

from __future__ import annotations

from typing import Final, cast

from chargeledger.application.ports import DocumentStore, RecordedEvent
from chargeledger.application.read_model_shapes import (
    CommandDoc,
    CommandOrderDoc,
    StationDoc,
    TransactionDoc,
)
from chargeledger.domain import events as e
from chargeledger.domain.charging_sessions import DEFAULT_STOP_REASON, session_energy
from chargeledger.domain.enums import CommandStatus, TransactionStatus
from chargeledger.domain.operations import name_of

COMMANDS = "command"
COMMAND_ORDER = "command_order"
"""The commands in the order they were requested (by log position), each with what the
command list filters on: ``GET /api/commands`` pages through it newest first."""
STATIONS = "station"
TRANSACTIONS = "transaction"
OPEN = "open"

TERMINAL_STATUS: dict[type[e.Event], CommandStatus] = {
    e.CommandAccepted: CommandStatus.ACCEPTED,
    e.CommandRejected: CommandStatus.REJECTED,
    e.CommandTimedOut: CommandStatus.TIMED_OUT,
    e.CommandExpired: CommandStatus.EXPIRED,
    e.CommandFailed: CommandStatus.FAILED,
}


def station_id_of(stream_id: str) -> str:
    return stream_id.removeprefix("station-")


def transaction_key(transaction_id: int) -> str:
    """Zero-padded, so that documents listed in key order come in transaction order."""
    return f"{transaction_id:012d}"


def command_order_key(requested_position: int) -> str:
    return f"{requested_position:020d}"


async def read_command(documents: DocumentStore, key: str) -> CommandDoc | None:
    """The command document stored under ``key`` (a command id), or ``None``."""
    return cast("CommandDoc | None", await documents.get(COMMANDS, key))


async def read_transaction(documents: DocumentStore, key: str) -> TransactionDoc | None:
    """The session document stored under ``key`` (``transaction_key``), or ``None``."""
    return cast("TransactionDoc | None", await documents.get(TRANSACTIONS, key))


async def read_station(documents: DocumentStore, station_id: str) -> StationDoc | None:
    """The station's business document, or ``None``."""
    return cast("StationDoc | None", await documents.get(STATIONS, station_id))


def command_order_doc(key: str, doc: CommandDoc) -> CommandOrderDoc:
    return {"key": key, "name": doc.get("name"), "status": doc.get("status")}


def command_doc(recorded: RecordedEvent, current: CommandDoc | None) -> CommandDoc | None:
    """The command view after one event, or ``None`` when the event is not about a command."""
    event = recorded.event
    if isinstance(event, e.CommandRequested):
        return {
            "command_id": event.command_id,
            "station_id": station_id_of(recorded.stream_id),
            "name": name_of(event),
            "payload": event.payload(),
            "status": CommandStatus.REQUESTED,
            "detail": "",
            "result": None,
            "requested_at": event.requested_at,
            "expires_at": event.expires_at,
            "attempt": 0,
            "position": recorded.position,
            "requested_position": recorded.position,
        }
    if current is None:
        return None
    if isinstance(event, e.CommandDispatched):
        return {
            **current,
            "status": CommandStatus.DISPATCHED,
            "attempt": event.attempt,
            "attempts": event.attempt,
            "connection_epoch": event.connection_epoch,
            "dispatched_at": event.dispatched_at,
            "position": recorded.position,
        }
    status = TERMINAL_STATUS.get(type(event))
    if status is None:
        return None
    detail = getattr(event, "detail", "")
    error_code = getattr(event, "error_code", "") or ERROR_CODES.get(status)
    return {
        **current,
        "status": status,
        "detail": detail,
        "result": getattr(event, "result", None) or None,
        "error_code": error_code,
        "error_description": detail if error_code else None,
        "answered_at": getattr(event, "answered_at", None),
        "ended_at": getattr(event, "answered_at", None) or recorded.metadata.recorded_at,
        "position": recorded.position,
    }


ERROR_CODES = {CommandStatus.TIMED_OUT: "Timeout", CommandStatus.EXPIRED: "Expired"}
"""The ``error_code`` of an end that is not a station's CALLERROR."""


def transaction_doc(
    recorded: RecordedEvent, current: TransactionDoc | None
) -> TransactionDoc | None:
    """The charging session's view after one event, or ``None`` when not about a session."""
    event = recorded.event
    if isinstance(event, e.TransactionStarted):
        started: TransactionDoc = {
            "transaction_id": event.transaction_id,
            "station_id": station_id_of(recorded.stream_id),
            "connector_id": event.connector_id,
            "id_tag": event.id_tag,
            "id_tag_status": event.id_tag_status,
            "status": TransactionStatus.OPEN,
            "meter_start": event.meter_start,
            "started_at": event.started_at,
            "meter_stop": None,
            "stopped_at": None,
            "stop_reason": None,
            "energy_wh": None,
            "energy_anomaly": None,
            "last_meter_value": None,
            "meter_value_count": 0,
            "reservation_id": event.reservation_id,
            "charging_profile_id": None,
            "remote_start_command_id": event.remote_start_command_id,
            "abandoned_for": None,
            "unconfirmed": False,
            "unconfirmed_reason": None,
            "close_reason": None,
            "position": recorded.position,
        }
        if event.station_transaction_id is not None:  # OCPP 2.0.1's own id, beside ours
            started["station_transaction_id"] = event.station_transaction_id
            started["offline"] = event.offline
        return started
    if current is None:
        return None
    if isinstance(event, e.TransactionUnconfirmed):
        # Still open as CONTRACT.md counts it: the station may yet send its stop.
        return {
            **current,
            "unconfirmed": True,
            "unconfirmed_reason": event.reason,
            "position": recorded.position,
        }
    if isinstance(event, e.TransactionClosed):
        return {
            **current,
            "status": TransactionStatus.CLOSED,
            "close_reason": event.reason,
            "stopped_at": event.closed_at,
            "position": recorded.position,
        }
    if isinstance(event, e.MeterValuesRecorded):
        return {
            **current,
            "last_meter_value": event.meter_value[-1] if event.meter_value else None,
            "meter_value_count": int(current["meter_value_count"]) + len(event.meter_value),
            "position": recorded.position,
        }
    if isinstance(event, e.TransactionStartCorrected):
        return _sent_offline(
            event,
            {
                **current,
                "meter_start": event.meter_start,
                "started_at": event.started_at,
                "position": recorded.position,
            },
        )
    if isinstance(event, e.TransactionAbandoned):
        return {
            **current,
            "status": TransactionStatus.ABANDONED,
            "abandoned_for": event.superseded_by,
            "position": recorded.position,
        }
    if isinstance(event, e.TransactionStopped):
        energy, anomaly = _energy(event, int(current["meter_start"]))
        stopped: TransactionDoc = {
            **current,
            "status": TransactionStatus.STOPPED,
            "meter_stop": event.meter_stop,
            "stopped_at": event.stopped_at,
            "stop_reason": event.reason or DEFAULT_STOP_REASON,
            "energy_wh": energy,
            "energy_anomaly": anomaly,
            "position": recorded.position,
        }
        return _sent_offline(event, stopped)
    return None


def _sent_offline(
    event: e.TransactionStopped | e.TransactionStartCorrected, doc: TransactionDoc
) -> TransactionDoc:
    """``offline`` stays once a recorded message of the transaction was sent offline."""
    if event.offline:
        doc["offline"] = True
    return doc


def _energy(event: e.TransactionStopped, meter_start: int) -> tuple[int | None, str | None]:
    if event.energy_wh is not None:
        return event.energy_wh, event.energy_anomaly
    return session_energy(meter_start, [], event.meter_stop)  # older events


def station_doc(recorded: RecordedEvent, current: StationDoc | None) -> StationDoc:
    doc: StationDoc = (
        {**current} if current else {"id": station_id_of(recorded.stream_id), "registration": None}
    )
    if isinstance(recorded.event, e.StationBooted):
        doc["registration"] = recorded.event.registration
        doc["vendor"] = recorded.event.vendor
        doc["model"] = recorded.event.model
        doc["serial"] = recorded.event.serial_number
        doc["firmware"] = recorded.event.firmware_version
        doc["last_boot"] = recorded.event.booted_at
        if recorded.event.reason is not None:
            doc["boot_reason"] = recorded.event.reason
    doc["version"] = recorded.version
    doc["position"] = recorded.position
    return doc


MERGED: Final = "merged"
"""The status of a key whose request was merged into another (``merged_into``)."""
