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
from dataclasses import dataclass
from typing import Any

from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.id_tags import IdTagRegistry
from chargeledger.application.ports import DocumentStore
from chargeledger.application.twin_service import TwinService
from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.enums import StopReason
from chargeledger.domain.errors import DomainError
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.station import retransmitted_start

log = logging.getLogger(__name__)

TRANSACTION_IDS = "transaction_id"
"""The sequence transaction ids come from: integers unique across the system."""


@dataclass(frozen=True)
class StartAnswer:
    transaction_id: int
    id_tag_info: IdTagInfo


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
        transaction_data: list[dict[str, Any]] | None = None,
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
