"""Charging sessions from the station's side: Authorize, StartTransaction, MeterValues
within a transaction, StopTransaction.

A station re-sends StartTransaction and StopTransaction when it missed our answer,
each time with a new OCPP message id. So each message gets a command id made from
what identifies it (for a start: connector, id tag, meter start and timestamp; for
a stop: the transaction id), and a repeat is recognised by the store's unique key:
it records nothing and is answered from what the first one recorded (I7).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace

from chargeledger.application.command_handler import CommandHandler, stream_of
from chargeledger.application.id_tags import IdTagRegistry
from chargeledger.application.ports import DocumentStore
from chargeledger.application.twin_service import TwinService
from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.charging_sessions import register_readings
from chargeledger.domain.enums import StopReason, TransactionEventType
from chargeledger.domain.errors import DomainError
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.station import retransmitted_start

log = logging.getLogger(__name__)

TRANSACTION_IDS = "transaction_id"
"""The sequence transaction ids come from: integers unique across the system."""


@dataclass(frozen=True)
class StartAnswer:
    transaction_id: int
    id_tag_info: IdTagInfo


@dataclass(frozen=True)
class TransactionEvent:
    """An OCPP 2.0.1 TransactionEvent as the use case takes it (``evse_id``: the EVSE,
    the domain's connector)."""

    event_type: TransactionEventType
    station_transaction_id: str
    seq_no: int
    evse_id: int
    timestamp: str
    id_tag: str | None = None
    reason: str | None = None
    reservation_id: int | None = None
    meter_value: list[JsonObject] = field(default_factory=list)
    offline: bool = False
    """The station sent it while offline, replaying it now (``offline: true``)."""


@dataclass(frozen=True)
class TransactionAnswer:
    transaction_id: int | None
    """Ours, once the transaction is known (``None``: a late message of one forgotten)."""
    id_tag_info: IdTagInfo | None


def _last_register(meter_value: list[JsonObject]) -> int | None:
    readings = register_readings(meter_value)
    return readings[-1] if readings else None


def start_command_id(connector_id: int, id_tag: str, meter_start: int, timestamp: str) -> str:
    return f"session/start/{connector_id}/{id_tag}/{meter_start}/{timestamp}"


def stop_command_id(transaction_id: int) -> str:
    return f"session/stop/{transaction_id}"


class ChargingSessions:
    def __init__(
        self,
        handler: CommandHandler,
        documents: DocumentStore,
        id_tags: IdTagRegistry,
        twin: TwinService,
    ) -> None:
        self._handler = handler
        self._documents = documents
        self._id_tags = id_tags
        self._twin = twin

    async def authorize(self, station_id: str, id_tag: str) -> IdTagInfo:
        """Authorize is a question, not a decision: nothing is recorded."""
        return await self._id_tags.authorize(id_tag)

    async def start_transaction(
        self,
        station_id: str,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        reservation_id: int | None = None,
    ) -> StartAnswer:
        command = c.StartTransaction(
            command_id=start_command_id(connector_id, id_tag, meter_start, timestamp),
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            timestamp=timestamp,
            transaction_id=await self._documents.next_in_sequence(TRANSACTION_IDS),
            id_tag_info=await self._id_tags.authorize(id_tag),
            reservation_id=reservation_id,
        )
        result = await self._handler.execute(station_id, command)
        for event in result.events:
            if isinstance(event, e.TransactionStarted):
                info = IdTagInfo(event.id_tag_status, event.id_tag_expiry)
                return StartAnswer(event.transaction_id, info)
        session = retransmitted_start(command, result.state)
        if session is None:
            raise RuntimeError(f"StartTransaction {command.command_id} recorded no session")
        return StartAnswer(
            session.transaction_id, IdTagInfo(session.id_tag_status, session.id_tag_expiry)
        )

    async def stop_transaction(
        self,
        station_id: str,
        transaction_id: int,
        meter_stop: int,
        timestamp: str,
        id_tag: str | None = None,
        reason: str | None = None,
        transaction_data: list[JsonObject] | None = None,
    ) -> IdTagInfo | None:
        """The verdict on the stopping id tag, when the station sent one."""
        info = await self._id_tags.authorize(id_tag) if id_tag else None
        meters = await self._twin.meters(station_id, transaction_id)
        command = c.StopTransaction(
            command_id=stop_command_id(transaction_id),
            transaction_id=transaction_id,
            meter_stop=meter_stop,
            timestamp=timestamp,
            id_tag=id_tag,
            id_tag_info=info,
            reason=None if reason is None else StopReason(reason),  # schema-checked
            transaction_data=transaction_data or [],
            last_reading=meters.get("last") if meters else None,
        )
        try:
            result = await self._handler.execute(station_id, command)
        except DomainError as refusal:  # unknown transaction: answer, so it stops re-sending
            log.warning("StopTransaction from %s not recorded: %s", station_id, refusal.detail)
            return info
        for event in result.events:
            if isinstance(event, e.TransactionStopped) and event.id_tag_status is not None:
                return IdTagInfo(event.id_tag_status, event.id_tag_expiry)
        return None

    async def transaction_event(
        self, station_id: str, event: TransactionEvent
    ) -> TransactionAnswer:
        """An OCPP 2.0.1 TransactionEvent: its Started and Ended (or the first news of
        a transaction, whichever message it is) are business; the meter values of any
        go to the twin, a repeated seqNo's only once."""
        info = await self._id_tags.authorize(event.id_tag) if event.id_tag else None
        reading = _last_register(event.meter_value)
        command = c.RecordTransactionEvent(
            command_id=f"session/tx/{event.station_transaction_id}/{event.seq_no}",
            event_type=event.event_type,
            station_transaction_id=event.station_transaction_id,
            seq_no=event.seq_no,
            connector_id=event.evse_id,
            timestamp=event.timestamp,
            transaction_id=await self._documents.next_in_sequence(TRANSACTION_IDS),
            id_tag=event.id_tag,
            id_tag_info=info,
            meter_reading=reading,
            reason=None if event.reason is None else StopReason(event.reason),
            reservation_id=event.reservation_id,
            meter_value=event.meter_value,
            offline=event.offline,
        )
        if reading is None and event.event_type == TransactionEventType.ENDED:
            command = await self._with_last_reading(station_id, command)
        result = await self._handler.execute(station_id, command)
        track = result.state.station_transactions.get(event.station_transaction_id)
        transaction_id = None if track is None else track.transaction_id
        if transaction_id is not None and event.meter_value:
            await self._twin.meter_values(
                station_id,
                event.evse_id,
                transaction_id,
                event.meter_value,
                event.seq_no,
                offline=event.offline,
            )
        return TransactionAnswer(transaction_id, info)

    async def _with_last_reading(
        self, station_id: str, command: c.RecordTransactionEvent
    ) -> c.RecordTransactionEvent:
        """An Ended without a reading ends at the last one the station sent, if any."""
        state, _ = await self._handler.load(stream_of(station_id))
        track = state.station_transactions.get(command.station_transaction_id)
        meters = (
            None if track is None else await self._twin.meters(station_id, track.transaction_id)
        )
        last = meters.get("last") if meters else None
        reading = _last_register([last]) if isinstance(last, dict) else None
        return command if reading is None else replace(command, meter_reading=reading)

    async def close(
        self, station_id: str, transaction_id: int, reason: str, closed_at: str
    ) -> int | None:
        """An operator closes a session the station no longer runs (``TransactionNotFound``
        when it is not open); the log position of the close."""
        command = c.CloseTransaction(
            command_id=f"session/close/{transaction_id}/{uuid.uuid4()}",
            transaction_id=transaction_id,
            reason=reason,
            closed_at=closed_at,
        )
        return (await self._handler.execute(station_id, command)).position
