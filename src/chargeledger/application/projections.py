"""Projections: read models built from the log, each batch committed with its checkpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from chargeledger.application.ports import DocumentStore, DocumentWrite, EventStore, RecordedEvent
from chargeledger.application.projection_cache import CachedDocuments
from chargeledger.domain import events as e
from chargeledger.domain.charging_sessions import DEFAULT_STOP_REASON, session_energy
from chargeledger.domain.enums import OPEN_STATUSES, CommandStatus, TransactionStatus
from chargeledger.domain.operations import name_of

log = logging.getLogger(__name__)

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


def command_order_doc(key: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "name": doc.get("name"), "status": doc.get("status")}


def command_doc(recorded: RecordedEvent, current: dict[str, Any] | None) -> dict[str, Any] | None:
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
    recorded: RecordedEvent, current: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The charging session's view after one event, or ``None`` when not about a session."""
    event = recorded.event
    if isinstance(event, e.TransactionStarted):
        return {
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
    if isinstance(event, e.TransactionAbandoned):
        return {
            **current,
            "status": TransactionStatus.ABANDONED,
            "abandoned_for": event.superseded_by,
            "position": recorded.position,
        }
    if isinstance(event, e.TransactionStopped):
        return {
            **current,
            "status": TransactionStatus.STOPPED,
            "meter_stop": event.meter_stop,
            "stopped_at": event.stopped_at,
            "stop_reason": event.reason or DEFAULT_STOP_REASON,
            **_energy(event, int(current["meter_start"])),
            "position": recorded.position,
        }
    return None


def _energy(event: e.TransactionStopped, meter_start: int) -> dict[str, Any]:
    if event.energy_wh is not None:
        return {"energy_wh": event.energy_wh, "energy_anomaly": event.energy_anomaly}
    energy, anomaly = session_energy(meter_start, [], event.meter_stop)  # older events
    return {"energy_wh": energy, "energy_anomaly": anomaly}


def station_doc(recorded: RecordedEvent, current: dict[str, Any] | None) -> dict[str, Any]:
    doc = dict(current or {"id": station_id_of(recorded.stream_id), "registration": None})
    if isinstance(recorded.event, e.StationBooted):
        doc["registration"] = recorded.event.registration
        doc["vendor"] = recorded.event.vendor
        doc["model"] = recorded.event.model
        doc["serial"] = recorded.event.serial_number
        doc["firmware"] = recorded.event.firmware_version
        doc["last_boot"] = recorded.event.booted_at
    doc["version"] = recorded.version
    doc["position"] = recorded.position
    return doc


class SameCommitProjection(Protocol):
    """Read models that are written in the same commit as the command views, and are
    given them (the other operations' views: reservations, local lists, ...)."""

    models: tuple[str, ...]
    """The read models it writes (rebuilding deletes them first)."""

    async def writes_for(
        self, batch: Sequence[RecordedEvent], commands: Mapping[str, dict[str, Any]]
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
        commands: dict[str, dict[str, Any]] = {}
        stations: dict[str, dict[str, Any]] = {}
        sessions: dict[str, dict[str, Any]] = {}
        for recorded in batch:
            command_id = getattr(recorded.event, "command_id", None)
            if isinstance(recorded.event, e.CommandMerged):
                await self._merged(recorded, recorded.event, commands)
            elif isinstance(command_id, str):
                key = command_id
                current = commands.get(key) or await self._documents.get(COMMANDS, key)
                if current is not None and current["station_id"] != station_id_of(
                    recorded.stream_id
                ):
                    # Two stations raced with one Idempotency-Key: the later keeps its
                    # own view under a key no operator id can take, so it still ends.
                    key = f"{station_id_of(recorded.stream_id)}/{command_id}"
                    current = commands.get(key) or await self._documents.get(COMMANDS, key)
                updated = command_doc(recorded, current)
                if updated is not None:
                    commands[key] = updated
            transaction_id = getattr(recorded.event, "transaction_id", None)
            if isinstance(recorded.event, e.SESSION_EVENTS) and isinstance(transaction_id, int):
                key = transaction_key(transaction_id)
                known_session = sessions.get(key) or await self._documents.get(TRANSACTIONS, key)
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
            known = stations.get(station_id) or await self._documents.get(STATIONS, station_id)
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
        writes += [DocumentWrite(STATIONS, key, doc) for key, doc in stations.items()]
        writes += [
            DocumentWrite(TRANSACTIONS, key, doc, doc["station_id"])
            for key, doc in sessions.items()
        ]
        if self._operations is not None:
            writes += await self._operations.writes_for(batch, commands)
        return writes

    async def _remote_start_profile(
        self, command_id: str | None, commands: dict[str, dict[str, Any]]
    ) -> int | None:
        """The id of the TxProfile the remote start behind a session carried, if any."""
        if command_id is None:
            return None
        command = commands.get(command_id) or await self._documents.get(COMMANDS, command_id)
        profile = ((command or {}).get("payload") or {}).get("charging_profile")
        return _profile_id(profile)

    async def _profile_applied(
        self,
        recorded: RecordedEvent,
        commands: dict[str, dict[str, Any]],
        sessions: dict[str, dict[str, Any]],
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
        session = sessions.get(key) or await self._documents.get(TRANSACTIONS, key)
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
        sessions: dict[str, dict[str, Any]],
    ) -> None:
        """A session that used a reservation by its id tag on its connector (without
        naming it) still names it."""
        key = transaction_key(transaction_id)
        session = sessions.get(key) or await self._documents.get(TRANSACTIONS, key)
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
        commands: dict[str, dict[str, Any]],
    ) -> None:
        """The key of a request merged into an open one points at it, and that one lists it."""
        station_id = station_id_of(recorded.stream_id)
        key = event.command_id
        existing = commands.get(key) or await self._documents.get(COMMANDS, key)
        if existing is not None and existing["station_id"] != station_id:
            key = f"{station_id}/{event.command_id}"
        commands[key] = {
            "command_id": event.command_id,
            "station_id": station_id,
            "status": MERGED,
            "merged_into": event.merged_into,
            "position": recorded.position,
        }
        target = commands.get(event.merged_into) or await self._documents.get(
            COMMANDS, event.merged_into
        )
        if target is not None and target["station_id"] == station_id:
            keys = [*(target.get("merged_keys") or []), event.command_id]
            commands[event.merged_into] = {**target, "merged_keys": keys}


def _profile_id(profile: object) -> int | None:
    found = profile.get("charging_profile_id") if isinstance(profile, dict) else None
    return found if isinstance(found, int) else None


MERGED = "merged"
"""The status of a key whose request was merged into another (``merged_into``)."""


class ProjectionRunner:
    """Follows the log from the projection's checkpoint and says how far it has got."""

    def __init__(
        self,
        store: EventStore,
        documents: DocumentStore,
        projection: CommandAndStationProjection,
        page_size: int = 500,
        safety_poll_s: float = 1.0,
    ) -> None:
        self._store = store
        self._documents = documents
        self._projection = projection
        self._page_size = page_size
        self._safety_poll_s = safety_poll_s
        self.position = 0
        self._position_moved = asyncio.Event()
        self._waiting = 0
        self._wanted = asyncio.Event()

    async def run(self) -> None:
        self.position = await self._documents.checkpoint(self._projection.name)
        if isinstance(self._documents, CachedDocuments):
            self._documents.clear()  # another node may have projected since we last did
        while True:
            batch = await self._store.read_all(self.position, self._page_size)
            if not batch:
                await self._store.wait_for_events(self.position, self._safety_poll_s)
                continue
            writes = await self._projection.writes_for(batch)
            await self._documents.commit_batch(self._projection.name, batch[-1].position, writes)
            self.reached(batch[-1].position)

    def reached(self, position: int) -> None:
        """The read models are at ``position`` (seen by another node's runner)."""
        if position > self.position:
            self.position = position
            self._position_moved.set()
            self._position_moved = asyncio.Event()

    async def follow_checkpoint(self, every_s: float = 0.005) -> None:
        """Where one node of a cluster projects for all (``run`` there), the others follow
        its checkpoint: looked at often while a reader waits, else once a second."""
        while True:
            if self._waiting:
                await asyncio.sleep(every_s)
            else:
                self._wanted.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wanted.wait(), self._safety_poll_s)
            self.reached(await self._documents.checkpoint(self._projection.name))

    async def wait_until(self, position: int, timeout: float) -> bool:
        """Whether the read models reach ``position`` within ``timeout`` (read-your-writes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiting += 1
        self._wanted.set()
        try:
            while self.position < position:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                moved = self._position_moved
                try:
                    await asyncio.wait_for(moved.wait(), remaining)
                except TimeoutError:
                    return self.position >= position
            return True
        finally:
            self._waiting -= 1


async def forget(documents: DocumentStore, projection: CommandAndStationProjection) -> int:
    """Delete the projection's read models and reset its checkpoint, so that running it
    again rebuilds them from the whole log; the number of documents deleted."""
    return await documents.forget(projection.models, projection.name)
