"""A command's way through its stream's flight: the job queued with its caller's
future, the decision taken on it, and the result (or error) that caller is settled with.

Kept apart from the handler (``command_handler``), which runs the flights (deciding, appending,
chaining, retrying conflicts): these are the values passed between those steps, and
``CommandResult`` is what every caller of the handler is given back.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from chargeledger.application.ports import AppendResult, Metadata
from chargeledger.domain import station
from chargeledger.domain.commands import Command
from chargeledger.domain.errors import DomainError
from chargeledger.domain.events import Event


@dataclass(frozen=True)
class CommandResult:
    """What a command recorded: ``events`` are the events of its command id (of the
    first handling when ``duplicate``), ``state`` and ``version`` the stream after it."""

    stream_id: str
    state: station.StationState
    version: int
    events: list[Event] = field(default_factory=list)
    append: AppendResult | None = None
    same_as: str | None = None
    """When the command repeated a request still open, the id of that request."""

    @property
    def duplicate(self) -> bool:
        return self.append is not None and self.append.duplicate

    @property
    def position(self) -> int | None:
        return None if self.append is None else self.append.last_position


@dataclass
class Job:
    command: Command
    metadata: Metadata
    future: asyncio.Future[CommandResult]
    conflicts: int = 0
    fingerprint: str | None = None
    """What the request said (its body), kept with its command id: a repeat of the id
    that says something else is refused (``IdempotencyKeyReused``)."""


@dataclass
class Decision:
    job: Job
    events: list[Event]
    refusal: DomainError | None
    state_after: station.StationState
    same_as: str | None = None

    @property
    def outcome(self) -> dict[str, str] | None:
        """What a repeat of the command id must answer when no events say it, and the
        request's fingerprint."""
        outcome: dict[str, str] = {}
        if self.refusal is not None:
            outcome = {"error": self.refusal.code, "detail": self.refusal.detail}
        elif self.same_as is not None:
            outcome = {"same_as": self.same_as}
        if self.job.fingerprint is not None:
            outcome["fingerprint"] = self.job.fingerprint
        return outcome or None


@dataclass
class Flight:
    waiting: list[Job] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


def settle(
    job: Job, result: CommandResult | None = None, error: BaseException | None = None
) -> None:
    if job.future.done():
        return
    if error is not None:
        job.future.set_exception(error)
        with contextlib.suppress(BaseException):
            job.future.exception()  # nobody may be waiting any more (a cancelled caller)
    else:
        assert result is not None
        job.future.set_result(result)
