"""The station decider: ``initial_state``, ``decide(command, state)``, ``evolve(state, event)``.

Only business lives here (registration, operator commands and their outcomes).
Heartbeats and status notifications are telemetry and go to the twin, so they
never move this stream's version (invariant I5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import (
    CommandNotFoundError,
    ConnectorNotAvailableError,
    StationNotRegisteredError,
)

REQUESTED = "requested"
DISPATCHED = "dispatched"


@dataclass(frozen=True)
class OpenCommand:
    """A station command decided but not yet ended."""

    command_id: str
    name: str
    status: str
    connector_id: int | None = None
    id_tag: str | None = None
    attempt: int = 0


@dataclass(frozen=True)
class StationState:
    registration: str | None = None
    open_commands: Mapping[str, OpenCommand] = field(default_factory=lambda: MappingProxyType({}))

    def pending_remote_start(self, connector_id: int) -> OpenCommand | None:
        for command in self.open_commands.values():
            if command.name == "remote-start" and command.connector_id == connector_id:
                return command
        return None


initial_state = StationState()


def decide(command: c.Command, state: StationState) -> list[e.Event]:
    """The events a command decides on this state, or a ``DomainError``."""
    match command:
        case c.RegisterBoot():
            return [
                e.StationBooted(
                    station_id=command.station_id,
                    registration=command.registration,
                    vendor=command.vendor,
                    model=command.model,
                    firmware_version=command.firmware_version,
                    booted_at=command.booted_at,
                )
            ]
        case c.RequestRemoteStart():
            return _decide_remote_start(command, state)
        case c.MarkDispatched():
            return _decide_dispatch(command, state)
        case c.RecordOutcome():
            return _decide_outcome(command, state)
    raise TypeError(f"no decision for {type(command).__name__}")


def _decide_remote_start(command: c.RequestRemoteStart, state: StationState) -> list[e.Event]:
    if state.registration == "Rejected":
        raise StationNotRegisteredError("the station's last BootNotification was rejected")
    pending = state.pending_remote_start(command.connector_id)
    if pending is not None:
        if pending.id_tag == command.id_tag:
            return []  # the same driver asking again: the pending request stands
        raise ConnectorNotAvailableError(
            f"connector {command.connector_id} is reserved by pending remote start "
            f"{pending.command_id}"
        )
    return [
        e.RemoteStartRequested(
            command_id=command.command_id,
            connector_id=command.connector_id,
            id_tag=command.id_tag,
            requested_at=command.requested_at,
            expires_at=command.expires_at,
        )
    ]


def _decide_dispatch(command: c.MarkDispatched, state: StationState) -> list[e.Event]:
    target = state.open_commands.get(command.target_command_id)
    if target is None:
        return []  # ended: nothing may be sent
    sendable = target.status == REQUESTED or (
        command.redispatch and target.status == DISPATCHED and command.attempt == target.attempt + 1
    )
    if not sendable:
        return []  # already dispatched: a repeat must not send it twice
    return [
        e.CommandDispatched(
            command_id=command.target_command_id,
            attempt=command.attempt,
            connection_epoch=command.connection_epoch,
            dispatched_at=command.dispatched_at,
        )
    ]


_OUTCOMES = ("accepted", "rejected", "timed_out", "expired", "failed")


def _outcome_event(command: c.RecordOutcome) -> e.Event:
    target = command.target_command_id
    if command.outcome == "accepted":
        return e.CommandAccepted(target, command.result, command.detail)
    if command.outcome == "rejected":
        return e.CommandRejected(target, command.result, command.detail)
    if command.outcome == "timed_out":
        return e.CommandTimedOut(target, command.detail)
    if command.outcome == "expired":
        return e.CommandExpired(target, command.detail)
    return e.CommandFailed(target, command.detail, command.error_code)


def _decide_outcome(command: c.RecordOutcome, state: StationState) -> list[e.Event]:
    if command.outcome not in _OUTCOMES:
        raise ValueError(f"unknown outcome {command.outcome!r}")
    target = state.open_commands.get(command.target_command_id)
    if target is None:
        raise CommandNotFoundError(f"command {command.target_command_id} is not open")
    if command.outcome == "expired" and target.status != REQUESTED:
        return []  # already on its way to the station: its answer decides, not the clock
    return [_outcome_event(command)]


def evolve(state: StationState, event: e.Event) -> StationState:
    """The state after one event. Total: an event that changes nothing returns ``state``."""
    match event:
        case e.StationBooted():
            return replace(state, registration=event.registration)
        case e.RemoteStartRequested():
            opened = OpenCommand(
                command_id=event.command_id,
                name="remote-start",
                status=REQUESTED,
                connector_id=event.connector_id,
                id_tag=event.id_tag,
            )
            return _with_command(state, opened)
        case e.CommandDispatched():
            target = state.open_commands.get(event.command_id)
            if target is None:
                return state
            return _with_command(state, replace(target, status=DISPATCHED, attempt=event.attempt))
        case _ if isinstance(event, e.TERMINAL_EVENTS):
            command_id: str = getattr(event, "command_id")  # noqa: B009 - shared field of the family
            if command_id not in state.open_commands:
                return state
            remaining = {k: v for k, v in state.open_commands.items() if k != command_id}
            return replace(state, open_commands=MappingProxyType(remaining))
    return state


def _with_command(state: StationState, command: OpenCommand) -> StationState:
    updated = dict(state.open_commands)
    updated[command.command_id] = command
    return replace(state, open_commands=MappingProxyType(updated))


def fold(events: Iterable[e.Event], state: StationState = initial_state) -> StationState:
    for event in events:
        state = evolve(state, event)
    return state
