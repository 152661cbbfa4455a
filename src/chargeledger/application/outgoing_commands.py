"""An outgoing command, from the dispatcher's work item to its one terminal event.

``OutgoingCommand`` is the work item: an open station command, read once from where it
comes from (a committed request event, or a command view when a station boots) and
typed from then on. ``OutcomeRecorder`` says it on the wire in the version its station
speaks (``said``) and records what became of it: the station's answer, its CALLERROR
or silence, or the verdict on a dispatch left in doubt.

Kept apart from the dispatcher, which decides when to send and what to reconcile:
only this node knows a station's answer, so recording it must outlast a busy stream
and a store outage (a restarted database, a full disk) for a bounded while, and a
command in doubt is judged from what the station did since, never re-sent here.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar

from chargeledger.application.command_handler import CommandHandler, RetriesExhaustedError
from chargeledger.application.document_shapes import RoutedCommandView
from chargeledger.application.ports import (
    CallNotSentError,
    CallTimeoutError,
    Clock,
    RecordedEvent,
    StationCallError,
    StationProtocol,
)
from chargeledger.application.read_model_documents import station_id_of
from chargeledger.application.reconciliation import NOT_OBSERVED, observed_effect
from chargeledger.application.twin_service import TwinService
from chargeledger.domain.commands import RecordOutcome
from chargeledger.domain.enums import CommandStatus, Outcome
from chargeledger.domain.errors import DomainError
from chargeledger.domain.events import CommandRequested
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.operations import OPERATIONS, name_of

log = logging.getLogger(__name__)

UNREADABLE_LOGGED = 10_000
OUTCOME_ATTEMPTS = 5

K = TypeVar("K")


@dataclass(frozen=True)
class OutgoingCommand:
    """An open command to send, or to reconcile if its dispatch is in doubt."""

    command_id: str
    station_id: str
    name: str
    """The command's API name (``remote-start``)."""
    payload: Mapping[str, Any]
    """Its arguments, named as in the API body (the request event's ``payload()``)."""
    status: CommandStatus
    """``REQUESTED`` or ``DISPATCHED``."""
    expires_at: datetime
    position: int
    """Of the last event about it: what the station did since counts as its effect."""
    attempt: int = 0
    """The last dispatch recorded (0: none yet)."""

    @classmethod
    def requested(cls, recorded: RecordedEvent, event: CommandRequested) -> OutgoingCommand:
        """The command a request event opens, just committed."""
        return cls(
            command_id=event.command_id,
            station_id=station_id_of(recorded.stream_id),
            name=name_of(event),
            payload=MappingProxyType(event.payload()),
            status=CommandStatus.REQUESTED,
            expires_at=datetime.fromisoformat(event.expires_at),
            position=recorded.position,
        )

    @classmethod
    def from_view(cls, doc: Mapping[str, Any]) -> OutgoingCommand | None:
        """An open command's view, or ``None`` (logged once) when it lacks what sending
        it reads: one bad view must never keep the others of a station, or of every
        station, from going out or from expiring."""
        try:
            status = CommandStatus(doc["status"])
            fine = (
                all(isinstance(doc.get(k), str) for k in ("command_id", "station_id", "name"))
                and type(doc.get("position")) is int
                and isinstance(doc.get("payload"), dict)
                and status in (CommandStatus.REQUESTED, CommandStatus.DISPATCHED)
            )
            if fine:
                return cls(
                    command_id=doc["command_id"],
                    station_id=doc["station_id"],
                    name=doc["name"],
                    payload=MappingProxyType(doc["payload"]),
                    status=status,
                    expires_at=datetime.fromisoformat(doc["expires_at"]),
                    position=doc["position"],
                    attempt=int(doc.get("attempt", 0)),
                )
        except (KeyError, TypeError, ValueError):
            pass
        _unreadable(doc)
        return None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def as_view(self) -> RoutedCommandView:
        """The fields ``from_view`` reads, as JSON-ready values: how a command crosses
        to another node (a routed command's notice)."""
        return {
            "command_id": self.command_id,
            "station_id": self.station_id,
            "name": self.name,
            "payload": dict(self.payload),
            "status": str(self.status),
            "expires_at": self.expires_at.isoformat(),
            "position": self.position,
            "attempt": self.attempt,
        }


_UNREADABLE: set[str] = set()


def _unreadable(doc: Mapping[str, Any]) -> None:
    key = str(doc.get("command_id"))
    if key not in _UNREADABLE and len(_UNREADABLE) < UNREADABLE_LOGGED:
        _UNREADABLE.add(key)
        log.error("command view %r cannot be read; skipped: %.200r", key, doc)


def ended_key(recorded: RecordedEvent) -> tuple[str, str]:
    """(station, command) of a terminal event: a command id names one per station."""
    command_id: str = getattr(recorded.event, "command_id")  # noqa: B009
    return station_id_of(recorded.stream_id), command_id


class RecentKeys(Generic[K]):
    """Keys remembered in the order they came, the oldest forgotten past ``kept``."""

    def __init__(self, kept: int = 100_000) -> None:
        self._keys: OrderedDict[K, None] = OrderedDict()
        self._kept = kept

    def keep(self, key: K) -> None:
        self._keys[key] = None
        if len(self._keys) > self._kept:
            self._keys.popitem(last=False)

    def forget(self, key: K) -> bool:
        """Forget ``key``; whether it was remembered."""
        return self._keys.pop(key, False) is None

    def __contains__(self, key: object) -> bool:
        return key in self._keys


class Unsealer(Protocol):
    """Puts back into a payload the secrets the log does not hold (``command_secrets``)."""

    async def unsealed(self, command: OutgoingCommand) -> Mapping[str, Any] | None: ...


class OutcomeRecorder:
    """Records the end of a dispatched command on its station's stream."""

    def __init__(
        self,
        handler: CommandHandler,
        clock: Clock,
        secrets: Unsealer,
        store_failures: tuple[type[Exception], ...] = (),
        patience_s: float = 120.0,
    ) -> None:
        self._secrets = secrets
        """Where the secrets a CALL needs and the log does not hold are kept."""
        self._handler = handler
        self._clock = clock
        self._store_failures = store_failures
        """What the store raises while its disk or database is away (an outage)."""
        self._patience_s = patience_s
        """How long a station's answer is kept, waiting for the store to take it."""

    async def record_call_failure(
        self,
        station_id: str,
        command_id: str,
        failure: CallNotSentError | CallTimeoutError | StationCallError,
    ) -> None:
        """A CALL that ended without the station's answer: never sent, unanswered in
        time, or answered with a CALLERROR."""
        if isinstance(failure, CallNotSentError):
            await self.record(
                station_id,
                command_id,
                Outcome.FAILED,
                f"not sent: {failure}",
                error_code="NotSent",
            )
        elif isinstance(failure, CallTimeoutError):
            await self.record(station_id, command_id, Outcome.TIMED_OUT, "no answer in time")
        else:
            await self.record(
                station_id,
                command_id,
                Outcome.FAILED,
                failure.description,
                error_code=failure.code,
            )

    async def record_verdict(
        self, station_id: str, command: OutgoingCommand, twin: TwinService
    ) -> None:
        """A dispatch in doubt ends by what the station did since it was requested:
        accepted when its effect is seen, otherwise failed as not observed."""
        command_id = command.command_id
        history = await self._handler.history(station_id)
        since = [r for r in history if r.position > command.position]
        evidence = observed_effect(command.name, command.payload, since, twin.get(station_id))
        if evidence is not None:
            await self.record(station_id, command_id, Outcome.ACCEPTED, f"reconciled: {evidence}")
        else:
            await self.record_not_observed(station_id, command_id)

    async def record_not_observed(self, station_id: str, command_id: str) -> None:
        """A dispatch in doubt whose effect was never seen fails as not observed."""
        await self.record(
            station_id, command_id, Outcome.FAILED, NOT_OBSERVED, error_code="InDoubt"
        )

    async def said(
        self, station_id: str, spoken: StationProtocol, command: OutgoingCommand
    ) -> tuple[str, JsonObject] | None:
        """The command's CALL in the version the station speaks now, or ``None``: it has
        no such message, or cannot say these arguments, and the command failed."""
        command_id = command.command_id
        if not spoken.speaks(command.name):
            await self.record_unspoken(station_id, command_id, command.name)
            return None
        payload = (
            await self._secrets.unsealed(command)
            if OPERATIONS[command.name].secrets
            else command.payload
        )
        if payload is None:
            await self.record(
                station_id,
                command_id,
                Outcome.FAILED,
                "its secrets are no longer kept; not sent",
                error_code="SecretsGone",
            )
            return None
        try:
            return spoken.call(command.name, payload, command_id)
        except ValueError as unsayable:
            await self.record_unspoken(station_id, command_id, command.name, str(unsayable))
            return None

    async def record_unspoken(
        self, station_id: str, command_id: str, name: str, why: str = ""
    ) -> None:
        """A command the OCPP version its station speaks now has no message for, or
        cannot say with its arguments (``why``; it was requested while the station spoke
        the other): it cannot go out, so it fails."""
        unsaid = why or f"{name} has no message in the OCPP version the station speaks now"
        await self.record(
            station_id,
            command_id,
            Outcome.FAILED,
            f"{unsaid}; not sent",
            error_code="NotSupportedByProtocol",
        )

    async def record(
        self,
        station_id: str,
        command_id: str,
        outcome: Outcome,
        detail: str = "",
        result: JsonObject | None = None,
        error_code: str = "",
    ) -> None:
        record = RecordOutcome(
            command_id=f"{command_id}/{outcome}",
            target_command_id=command_id,
            outcome=outcome,
            result=result or {},
            detail=detail,
            error_code=error_code,
            answered_at=self._clock.now().isoformat(),
        )
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._patience_s
        busy = outage = 0
        while True:
            try:
                await self._handler.execute(
                    station_id, record, correlation_id=command_id, causation_id=command_id
                )
                if outage:
                    log.info("recorded %s of %s once the store was back", outcome, command_id)
                return
            except DomainError:
                return  # already ended: the first outcome stands
            except RetriesExhaustedError:
                # The station's answer must not be lost to a busy stream: the command id
                # makes a repeat harmless, so try again after a pause.
                busy += 1
                if busy == OUTCOME_ATTEMPTS:
                    raise
                await asyncio.sleep(0.05 * 2**busy)
            except self._store_failures as failure:
                # Only this node knows the station's answer; left unrecorded, the command
                # would wait in doubt until its time to live. Keep it until the store is
                # back (a restarted database, a freed disk), for a bounded while.
                if loop.time() > give_up_at:
                    raise
                if outage == 0:
                    log.warning(
                        "the store refused %s of %s: %s; retrying", outcome, command_id, failure
                    )
                outage += 1
                await asyncio.sleep(min(2.0, 0.1 * 2**outage))
