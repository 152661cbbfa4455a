"""Events of the station stream. Past tense, frozen, JSON-friendly fields only.

Operator commands open with a ``...Requested`` event (a ``CommandRequested``):

| command name          | event                         | payload (snake_case, as the API body) |
| --------------------- | ----------------------------- | ------------------------------------- |
| remote-start          | ``RemoteStartRequested``      | connector_id, id_tag                  |
| remote-stop           | ``RemoteStopRequested``       | transaction_id                        |
| unlock-connector      | ``UnlockConnectorRequested``  | connector_id                          |
| reset                 | ``ResetRequested``            | type                                  |
| change-availability   | ``AvailabilityChangeRequested`` | connector_id, type                  |
| trigger-message       | ``TriggerMessageRequested``   | requested_message, connector_id       |

then ``CommandDispatched`` before each send, and end in exactly one shared outcome
event: ``CommandAccepted``, ``CommandRejected``, ``CommandTimedOut``,
``CommandExpired`` or ``CommandFailed`` (ARCHITECTURE.md flow 4).

Charging sessions: ``TransactionStarted``, ``MeterValuesRecorded``,
``TransactionStopped``, and ``TransactionAbandoned`` when a station starts a new
session on a connector whose previous one it never stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


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


@dataclass(frozen=True, kw_only=True)
class CommandRequested(Event):
    """An operator command decided for the station; the dispatcher sends it after commit."""

    command_name: ClassVar[str]

    command_id: str
    requested_at: str
    expires_at: str

    def payload(self) -> dict[str, Any]:
        """The command's arguments, named as in the API body."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class RemoteStartRequested(CommandRequested):
    command_name: ClassVar[str] = "remote-start"
    connector_id: int
    id_tag: str

    def payload(self) -> dict[str, Any]:
        return {"connector_id": self.connector_id, "id_tag": self.id_tag}


@dataclass(frozen=True, kw_only=True)
class RemoteStopRequested(CommandRequested):
    command_name: ClassVar[str] = "remote-stop"
    transaction_id: int

    def payload(self) -> dict[str, Any]:
        return {"transaction_id": self.transaction_id}


@dataclass(frozen=True, kw_only=True)
class UnlockConnectorRequested(CommandRequested):
    command_name: ClassVar[str] = "unlock-connector"
    connector_id: int

    def payload(self) -> dict[str, Any]:
        return {"connector_id": self.connector_id}


@dataclass(frozen=True, kw_only=True)
class ResetRequested(CommandRequested):
    command_name: ClassVar[str] = "reset"
    reset_type: str

    def payload(self) -> dict[str, Any]:
        return {"type": self.reset_type}


@dataclass(frozen=True, kw_only=True)
class AvailabilityChangeRequested(CommandRequested):
    command_name: ClassVar[str] = "change-availability"
    connector_id: int
    availability_type: str

    def payload(self) -> dict[str, Any]:
        return {"connector_id": self.connector_id, "type": self.availability_type}


@dataclass(frozen=True, kw_only=True)
class TriggerMessageRequested(CommandRequested):
    command_name: ClassVar[str] = "trigger-message"
    requested_message: str
    connector_id: int | None = None

    def payload(self) -> dict[str, Any]:
        return {"requested_message": self.requested_message, "connector_id": self.connector_id}


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


@dataclass(frozen=True, kw_only=True)
class TransactionStarted(Event):
    """``started_at`` is the station's own timestamp; ``remote_start_command_id`` links
    the session to the remote start that reserved its connector, if any."""

    transaction_id: int
    connector_id: int
    id_tag: str
    id_tag_status: str
    id_tag_expiry: str | None
    meter_start: int
    started_at: str
    reservation_id: int | None = None
    remote_start_command_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class MeterValuesRecorded(Event):
    """Readings within a transaction, in OCPP 1.6's ``MeterValue`` structure."""

    transaction_id: int
    connector_id: int
    meter_value: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class TransactionStopped(Event):
    """``id_tag_status``/``id_tag_expiry``: the verdict on the stopping tag, kept so a
    repeated StopTransaction is answered the same."""

    transaction_id: int
    connector_id: int
    meter_stop: int
    stopped_at: str
    id_tag: str | None = None
    id_tag_status: str | None = None
    id_tag_expiry: str | None = None
    reason: str | None = None
    transaction_data: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class TransactionAbandoned(Event):
    """The station started ``superseded_by`` on the connector without stopping this one
    (it lost it, or rebooted). A late StopTransaction for it still closes its books."""

    transaction_id: int
    connector_id: int
    superseded_by: int


TERMINAL_EVENTS: tuple[type[Event], ...] = (
    CommandAccepted,
    CommandRejected,
    CommandTimedOut,
    CommandExpired,
    CommandFailed,
)

REQUEST_EVENTS: tuple[type[CommandRequested], ...] = (
    RemoteStartRequested,
    RemoteStopRequested,
    UnlockConnectorRequested,
    ResetRequested,
    AvailabilityChangeRequested,
    TriggerMessageRequested,
)

SESSION_EVENTS: tuple[type[Event], ...] = (
    TransactionStarted,
    MeterValuesRecorded,
    TransactionStopped,
    TransactionAbandoned,
)

ALL_EVENTS: tuple[type[Event], ...] = (
    StationBooted,
    *REQUEST_EVENTS,
    CommandDispatched,
    *TERMINAL_EVENTS,
    *SESSION_EVENTS,
)
