"""Events of the station stream. Past tense, frozen, JSON-friendly fields only.

Outcome events are shared by every operator command: each command ends in
exactly one of ``CommandAccepted``, ``CommandRejected``, ``CommandTimedOut``,
``CommandExpired`` or ``CommandFailed`` (ARCHITECTURE.md flow 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""


@dataclass(frozen=True)
class StationBooted(Event):
    station_id: str
    registration: str  # Accepted | Pending | Rejected
    vendor: str
    model: str
    firmware_version: str | None
    booted_at: str


@dataclass(frozen=True)
class RemoteStartRequested(Event):
    command_id: str
    connector_id: int
    id_tag: str
    requested_at: str
    expires_at: str


@dataclass(frozen=True)
class CommandDispatched(Event):
    command_id: str
    attempt: int
    connection_epoch: int
    dispatched_at: str


@dataclass(frozen=True)
class CommandAccepted(Event):
    command_id: str
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class CommandRejected(Event):
    command_id: str
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class CommandTimedOut(Event):
    command_id: str
    detail: str = ""


@dataclass(frozen=True)
class CommandExpired(Event):
    command_id: str
    detail: str = ""


@dataclass(frozen=True)
class CommandFailed(Event):
    command_id: str
    detail: str = ""
    error_code: str = ""


TERMINAL_EVENTS: tuple[type[Event], ...] = (
    CommandAccepted,
    CommandRejected,
    CommandTimedOut,
    CommandExpired,
    CommandFailed,
)

REQUEST_EVENTS: tuple[type[Event], ...] = (RemoteStartRequested,)

ALL_EVENTS: tuple[type[Event], ...] = (
    StationBooted,
    RemoteStartRequested,
    CommandDispatched,
    *TERMINAL_EVENTS,
)
