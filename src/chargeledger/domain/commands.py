"""Commands to the station aggregate. Imperative names; time and ids arrive here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Command:
    """Base of every command; ``command_id`` makes a repeat recognisable."""

    command_id: str


@dataclass(frozen=True)
class RegisterBoot(Command):
    station_id: str
    registration: str
    vendor: str
    model: str
    firmware_version: str | None
    booted_at: str


@dataclass(frozen=True)
class RequestRemoteStart(Command):
    connector_id: int
    id_tag: str
    requested_at: str
    expires_at: str


@dataclass(frozen=True)
class MarkDispatched(Command):
    target_command_id: str
    attempt: int
    connection_epoch: int
    dispatched_at: str
    redispatch: bool = False
    """Send again a command already dispatched; only for commands whose repeat is harmless."""


@dataclass(frozen=True)
class RecordOutcome(Command):
    """The end of a station command; ``outcome`` names the terminal status."""

    target_command_id: str
    outcome: str  # accepted | rejected | timed_out | expired | failed
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    error_code: str = ""
