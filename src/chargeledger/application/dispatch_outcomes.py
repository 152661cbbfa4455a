"""What became of a dispatched command, recorded as its one terminal event: the
station's answer, its CALLERROR or silence, or the verdict on a dispatch left in doubt.

Kept apart from the dispatcher, which decides when to send and what to reconcile:
only this node knows a station's answer, so recording it must outlast a busy stream
and a store outage (a restarted database, a full disk) for a bounded while, and a
command in doubt is judged from what the station did since, never re-sent here.
"""

from __future__ import annotations

import asyncio
import logging

from chargeledger.application.command_handler import CommandHandler, RetriesExhaustedError
from chargeledger.application.command_secrets import CommandSecrets
from chargeledger.application.outgoing_commands import OutgoingCommand
from chargeledger.application.ports import (
    CallNotSentError,
    CallTimeoutError,
    Clock,
    StationCallError,
    StationProtocol,
)
from chargeledger.application.reconciliation import NOT_OBSERVED, observed_effect
from chargeledger.application.twin_service import TwinService
from chargeledger.domain.commands import RecordOutcome
from chargeledger.domain.enums import Outcome
from chargeledger.domain.errors import DomainError
from chargeledger.domain.json_object import JsonObject

log = logging.getLogger(__name__)

OUTCOME_ATTEMPTS = 5


class OutcomeRecorder:
    """Records the end of a dispatched command on its station's stream."""

    def __init__(
        self,
        handler: CommandHandler,
        clock: Clock,
        store_failures: tuple[type[Exception], ...] = (),
        patience_s: float = 120.0,
        secrets: CommandSecrets | None = None,
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
        payload = await self._secrets.unsealed(command) if self._secrets else command.payload
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
