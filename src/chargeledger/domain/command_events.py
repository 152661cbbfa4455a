"""The life of an operator command, common to every operation: it opens with a
``...Requested`` event (a ``CommandRequested``; ``command_requests`` holds one per
operation), then ``CommandDispatched`` before each send, and ends in exactly one shared
outcome event: ``CommandAccepted``, ``CommandRejected``, ``CommandTimedOut``,
``CommandExpired`` or ``CommandFailed`` (ARCHITECTURE.md flow 4). ``CommandMerged``
records a repeated request that opened no second command."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypedDict

from chargeledger.domain.event import Event


class RequestBasics(TypedDict):
    """What every ``CommandRequested`` carries besides its arguments."""

    command_id: str
    requested_at: str
    expires_at: str


@dataclass(frozen=True, kw_only=True)
class CommandRequested(Event):
    """An operator command decided for the station; the dispatcher sends it after commit."""

    command_id: str
    requested_at: str
    expires_at: str

    def payload(self) -> dict[str, Any]:
        """The command's arguments, named as in the API body (by default every field
        but the three above)."""
        common = ("command_id", "requested_at", "expires_at")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in common}


@dataclass(frozen=True)
class CommandDispatched(Event):
    command_id: str
    attempt: int
    connection_epoch: int
    dispatched_at: str


@dataclass(frozen=True)
class CommandMerged(Event):
    """An operator's request under ``command_id`` (its Idempotency-Key) repeated the
    request ``merged_into`` still open: no second command; both keys lead to that one."""

    command_id: str
    merged_into: str


@dataclass(frozen=True)
class CommandAccepted(Event):
    """``answered_at``: when the station's answer came (``None`` in older events)."""

    command_id: str
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    answered_at: str | None = None


@dataclass(frozen=True)
class CommandRejected(Event):
    command_id: str
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    answered_at: str | None = None


@dataclass(frozen=True)
class CommandTimedOut(Event):
    command_id: str
    detail: str = ""
    answered_at: str | None = None


@dataclass(frozen=True)
class CommandExpired(Event):
    command_id: str
    detail: str = ""
    answered_at: str | None = None


@dataclass(frozen=True)
class CommandFailed(Event):
    command_id: str
    detail: str = ""
    error_code: str = ""
    answered_at: str | None = None


TERMINAL_EVENTS: tuple[type[Event], ...] = (
    CommandAccepted,
    CommandRejected,
    CommandTimedOut,
    CommandExpired,
    CommandFailed,
)
