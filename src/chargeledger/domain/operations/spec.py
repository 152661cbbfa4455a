"""What an operation is, apart from any protocol version: the ``Operation`` type.

An operator's station command (remote start, reset, ...) is one ``Operation``: the
name the API and the log know it by, the domain command it is decided as, the
``...Requested`` event that opens it, what it holds while open, where it carries a
charging profile, and how an in-doubt dispatch is settled. How it travels to a
station is the protocol version's part (``adapters/ocpp/v16/operations.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar

from chargeledger.domain.commands import OperatorCommand
from chargeledger.domain.events import CommandRequested, Event, RequestBasics
from chargeledger.domain.remote_start_policy import TwinSnapshot
from chargeledger.domain.twin import StationTwin

if TYPE_CHECKING:  # station_state names the operations
    from chargeledger.domain.station_state import StationState

Arguments = Mapping[str, Any]
"""An operation's arguments, named as in the API body and the event's payload."""


class Common(TypedDict):
    """What every operator command carries beside its operation's arguments."""

    command_id: str
    requested_at: str
    expires_at: str
    twin: TwinSnapshot


COMMON = ("command_id", "requested_at", "expires_at", "twin")

Builder = Callable[[Arguments, Common], OperatorCommand]

C = TypeVar("C", bound=OperatorCommand)

Request = Callable[[C, "StationState", RequestBasics], CommandRequested]
"""The event that opens a command of the operation, its arguments checked (given the
event's command id and times); raises a ``DomainError`` for arguments it refuses."""

Slot = Callable[[Arguments], tuple[Any, ...]]
"""What an open command of the operation occupies, from its payload: one open command
per slot at a time; a second with the same payload is the same request."""

Observer = Callable[[Arguments, Sequence[Event], StationTwin | None], str | None]
"""The evidence that a dispatched command took effect (its payload, the station's events
since, its twin), or ``None``."""


class Lookup(StrEnum):
    """What an operation's decision needs looked up beyond its body, before deciding
    (the application looks each up: ``application/command_inputs.py``), so that the
    decision stays a pure function of the command."""

    ID_TAG_STATUS = "id_tag_status"
    """The registry's verdict on the command's ``id_tag``."""
    RESERVATION_ID = "reservation_id"
    """A new reservation id, unique across the system."""
    LOCAL_LIST = "local_list"
    """The entries to send: those given, a named list's, or the registry's tags."""
    CONFIGURATION = "configuration"
    """What the station reported of its configuration keys."""
    RECORDED_TRANSACTION = "recorded_transaction"
    """What the CSMS recorded of the command's ``transaction_id``."""


def identical(payload: Arguments) -> tuple[Any, ...]:
    """The slot of an operation that waits only for an identical request."""
    return tuple(sorted(payload.items()))


def holds(*names: str) -> Slot:
    """The slot of an operation that holds these arguments (none: the whole station)."""

    def slot(payload: Arguments) -> tuple[Any, ...]:
        return tuple(payload[name] for name in names)

    return slot


@dataclass(frozen=True)
class Operation(Generic[C]):
    name: str
    """As in the API path and the command view: ``remote-start``."""
    command: type[C]
    event: type[CommandRequested]
    request: Request[C]
    slot: Slot = identical
    build: Builder | None = None
    """The command from the (completed) arguments; ``None``: fields named as the arguments."""
    profile_field: str | None = None
    """The argument that carries a charging profile (``charging_profile_id`` names a stored one)."""
    lookups: tuple[Lookup, ...] = ()
    """What is looked up and added to the arguments before deciding."""
    repeat_is_harmless: bool = False
    """Whether a dispatch in doubt may simply be sent again (it only asks the station)."""
    observe: Observer | None = None
    """How a dispatch in doubt is reconciled; ``None``: it ends failed, never guessed."""

    def command_of(self, arguments: Arguments, common: Common) -> OperatorCommand:
        if self.build is not None:
            return self.build(arguments, common)
        names = {f.name for f in fields(self.command)} - set(COMMON)
        return self.command(**common, **{k: v for k, v in arguments.items() if k in names})

    def requested(self, command: C, state: StationState) -> CommandRequested:
        """The event that would open ``command``, its arguments checked."""
        opening: RequestBasics = {
            "command_id": command.command_id,
            "requested_at": command.requested_at,
            "expires_at": command.expires_at,
        }
        return self.request(command, state, opening)

    def slot_of(self, payload: Arguments) -> tuple[Any, ...]:
        return (self.name, *self.slot(payload))
