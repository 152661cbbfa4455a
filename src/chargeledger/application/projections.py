"""Projections: read models built from the log, each batch committed with its checkpoint.

This module says what a batch of the log writes to the read models (the command
views, the stations' business views, the charging sessions, and the other operations'
views in the same commit); the documents themselves are ``read_model_documents``', and
following the log is ``projection_runner``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from chargeledger.application.command_secrets import forgotten
from chargeledger.application.ports import DocumentStore, DocumentWrite, RecordedEvent
from chargeledger.application.read_model_documents import (
    COMMAND_ORDER,
    COMMANDS,
    MERGED,
    OPEN,
    STATIONS,
    TRANSACTIONS,
    command_doc,
    command_order_doc,
    command_order_key,
    read_command,
    read_station,
    read_transaction,
    station_doc,
    station_id_of,
    transaction_doc,
    transaction_key,
)
from chargeledger.application.read_model_shapes import CommandDoc, StationDoc, TransactionDoc
from chargeledger.domain import events as e
from chargeledger.domain.enums import OPEN_STATUSES


class SameCommitProjection(Protocol):
    """Read models that are written in the same commit as the command views, and are
    given them (the other operations' views: reservations, local lists, ...)."""

    models: tuple[str, ...]
    """The read models it writes (rebuilding deletes them first)."""

    async def writes_for(
        self, batch: Sequence[RecordedEvent], commands: Mapping[str, CommandDoc]
    ) -> list[DocumentWrite]:
        """More read-model changes of ``batch``, given its command views."""
        ...


class CommandAndStationProjection:
    """Keeps the command views, the stations' business views and the charging sessions,
    and (``operations``) the read models of the other operations, in the same commit."""

    name = "views"

    def __init__(
        self, documents: DocumentStore, operations: SameCommitProjection | None = None
    ) -> None:
        self._documents = documents
        self._operations = operations
        self.models: tuple[str, ...] = (COMMANDS, COMMAND_ORDER, STATIONS, TRANSACTIONS) + (
            operations.models if operations is not None else ()
        )

    async def writes_for(self, batch: Sequence[RecordedEvent]) -> list[DocumentWrite]:
        commands: dict[str, CommandDoc] = {}
        stations: dict[str, StationDoc] = {}
        sessions: dict[str, TransactionDoc] = {}
        for recorded in batch:
            command_id = getattr(recorded.event, "command_id", None)
            if isinstance(recorded.event, e.CommandMerged):
                await self._merged(recorded, recorded.event, commands)
            elif isinstance(command_id, str):
                key = command_id
                current = commands.get(key) or await read_command(self._documents, key)
                if current is not None and current["station_id"] != station_id_of(
                    recorded.stream_id
                ):
                    # Two stations raced with one Idempotency-Key: the later keeps its
                    # own view under a key no operator id can take, so it still ends.
                    key = f"{station_id_of(recorded.stream_id)}/{command_id}"
                    current = commands.get(key) or await read_command(self._documents, key)
                updated = command_doc(recorded, current)
                if updated is not None:
                    commands[key] = updated
            transaction_id = getattr(recorded.event, "transaction_id", None)
            if isinstance(recorded.event, e.SESSION_EVENTS) and isinstance(transaction_id, int):
                key = transaction_key(transaction_id)
                known_session = sessions.get(key) or await read_transaction(self._documents, key)
                session = transaction_doc(recorded, known_session)
                if session is not None:
                    if isinstance(recorded.event, e.TransactionStarted):
                        session["charging_profile_id"] = await self._remote_start_profile(
                            recorded.event.remote_start_command_id, commands
                        )
                    sessions[key] = session
            elif isinstance(recorded.event, e.CommandAccepted):
                await self._profile_applied(recorded, commands, sessions)
            elif isinstance(recorded.event, e.ReservationEnded) and isinstance(transaction_id, int):
                await self._reservation_used(recorded, recorded.event, transaction_id, sessions)
            station_id = station_id_of(recorded.stream_id)
            known = stations.get(station_id) or await read_station(self._documents, station_id)
            stations[station_id] = station_doc(recorded, known)
        writes = [
            DocumentWrite(COMMANDS, key, doc, OPEN if doc["status"] in OPEN_STATUSES else None)
            for key, doc in commands.items()
        ]
        writes += [
            DocumentWrite(
                COMMAND_ORDER,
                command_order_key(int(doc["requested_position"])),
                command_order_doc(key, doc),
                doc["station_id"],
            )
            for key, doc in commands.items()
            if doc.get("requested_position") is not None
        ]
        writes += forgotten(commands)  # the secrets of those that ended: no more CALLs
        writes += [DocumentWrite(STATIONS, key, doc) for key, doc in stations.items()]
        writes += [
            DocumentWrite(TRANSACTIONS, key, doc, doc["station_id"])
            for key, doc in sessions.items()
        ]
        if self._operations is not None:
            writes += await self._operations.writes_for(batch, commands)
        return writes

    async def _remote_start_profile(
        self, command_id: str | None, commands: dict[str, CommandDoc]
    ) -> int | None:
        """The id of the TxProfile the remote start behind a session carried, if any."""
        if command_id is None:
            return None
        command = commands.get(command_id) or await read_command(self._documents, command_id)
        profile = ((command or {}).get("payload") or {}).get("charging_profile")
        return _profile_id(profile)

    async def _profile_applied(
        self,
        recorded: RecordedEvent,
        commands: dict[str, CommandDoc],
        sessions: dict[str, TransactionDoc],
    ) -> None:
        """A TxProfile the station accepted for a running session: the session runs
        under it from now on."""
        command = commands.get(getattr(recorded.event, "command_id", ""))
        if command is None or command.get("name") != "set-charging-profile":
            return
        profile = (command.get("payload") or {}).get("cs_charging_profiles") or {}
        transaction_id = profile.get("transaction_id")
        if not isinstance(transaction_id, int):
            return
        key = transaction_key(transaction_id)
        session = sessions.get(key) or await read_transaction(self._documents, key)
        if session is None or session["station_id"] != command["station_id"]:
            return
        sessions[key] = {
            **session,
            "charging_profile_id": _profile_id(profile),
            "position": recorded.position,
        }

    async def _reservation_used(
        self,
        recorded: RecordedEvent,
        event: e.ReservationEnded,
        transaction_id: int,
        sessions: dict[str, TransactionDoc],
    ) -> None:
        """A session that used a reservation by its id tag on its connector (without
        naming it) still names it."""
        key = transaction_key(transaction_id)
        session = sessions.get(key) or await read_transaction(self._documents, key)
        if session is None or session.get("reservation_id") is not None:
            return
        sessions[key] = {
            **session,
            "reservation_id": event.reservation_id,
            "position": recorded.position,
        }

    async def _merged(
        self,
        recorded: RecordedEvent,
        event: e.CommandMerged,
        commands: dict[str, CommandDoc],
    ) -> None:
        """The key of a request merged into an open one points at it, and that one lists it."""
        station_id = station_id_of(recorded.stream_id)
        key = event.command_id
        existing = commands.get(key) or await read_command(self._documents, key)
        if existing is not None and existing["station_id"] != station_id:
            key = f"{station_id}/{event.command_id}"
        commands[key] = {
            "command_id": event.command_id,
            "station_id": station_id,
            "status": MERGED,
            "merged_into": event.merged_into,
            "position": recorded.position,
        }
        target = commands.get(event.merged_into) or await read_command(
            self._documents, event.merged_into
        )
        if target is not None and target["station_id"] == station_id:
            keys = [*(target.get("merged_keys") or []), event.command_id]
            commands[event.merged_into] = {**target, "merged_keys": keys}


def _profile_id(profile: object) -> int | None:
    found = profile.get("charging_profile_id") if isinstance(profile, dict) else None
    return found if isinstance(found, int) else None
