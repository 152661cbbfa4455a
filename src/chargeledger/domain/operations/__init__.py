"""The operations an operator can send a station: one ``Operation`` each, declared once
here, in the order the API lists them. Every table about them (the API's names, the
CLI's ``send``, the slots, the reconciliation of a dispatch in doubt, where a charging
profile rides) is derived from ``OPERATIONS``; how each travels in a protocol version
is that version's table (``adapters/ocpp/v16/operations.py``).

An operator's station command (remote start, reset, ...) is one ``Operation``: the
name the API and the log know it by, the domain command it is decided as, the
``...Requested`` event that opens it, what it holds while open, where it carries a
charging profile, and how an in-doubt dispatch is settled. The type and its table
share this module so that a reader follows an operation in one file.

Adding an operation: its command (``commands``) and event (``events``) types, its
checks (``arguments``), its entry here (with what it needs looked up before deciding,
``lookups``), and its entry in each protocol version's table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar

from chargeledger.domain import commands as c
from chargeledger.domain import commands_201 as c201
from chargeledger.domain import events as e
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
    (the application looks each up: ``application/operator_commands.py``), so that the
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
    secrets: tuple[str, ...] = ()
    """Dotted paths of arguments the log never holds (``command_secrets`` keeps them)."""

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


# The checks and the reconciliations name the types above: imported once they exist.
from chargeledger.domain.operations import arguments, arguments_201, in_doubt  # noqa: E402


def _remote_start_slot(payload: Arguments) -> tuple[object, ...]:
    if payload.get("connector_id") is None:  # the station picks: one per id tag
        return (None, payload["id_tag"])
    return (payload["connector_id"],)


REMOTE_START = Operation(
    "remote-start",
    c.RequestRemoteStart,
    e.RemoteStartRequested,
    arguments.remote_start,
    slot=_remote_start_slot,
    build=arguments.remote_start_command,
    profile_field="charging_profile",
    lookups=(Lookup.ID_TAG_STATUS,),
    observe=in_doubt.remote_start_took_effect,
)
REMOTE_STOP = Operation(
    "remote-stop",
    c.RequestRemoteStop,
    e.RemoteStopRequested,
    arguments.remote_stop,
    slot=holds("transaction_id"),
    lookups=(Lookup.RECORDED_TRANSACTION,),
    observe=in_doubt.remote_stop_took_effect,
)
UNLOCK_CONNECTOR = Operation(
    "unlock-connector",
    c.RequestUnlockConnector,
    e.UnlockConnectorRequested,
    arguments.unlock_connector,
    slot=holds("connector_id"),
)
RESET = Operation(
    "reset",
    c.RequestReset,
    e.ResetRequested,
    arguments.reset,
    slot=arguments.part_or_whole("evse_id"),
    build=arguments.reset_command,
)
CHANGE_AVAILABILITY = Operation(
    "change-availability",
    c.RequestChangeAvailability,
    e.AvailabilityChangeRequested,
    arguments.change_availability,
    slot=arguments.part_or_whole("connector_id"),
    build=arguments.change_availability_command,
    observe=in_doubt.availability_took_effect,
)
# The repeats that are harmless only ask the station something; a second asking leaves
# it as it was. Not so: clear-cache (the cache may have refilled in between, and a
# repeat empties it again), get-diagnostics (a second upload of the station's log),
# update-firmware and set-charging-profile (they change the station), data-transfer
# (whatever the vendor's message does), and the rest.
TRIGGER_MESSAGE = Operation(
    "trigger-message",
    c.RequestTriggerMessage,
    e.TriggerMessageRequested,
    arguments.trigger_message,
    repeat_is_harmless=True,
)
# One firmware update, one diagnostics upload, one list update (its version counts on
# the last), one change per configuration key at a time.
CLEAR_CACHE = Operation(
    "clear-cache", c.RequestClearCache, e.ClearCacheRequested, arguments.clear_cache, slot=holds()
)
GET_CONFIGURATION = Operation(
    "get-configuration",
    c.RequestGetConfiguration,
    e.GetConfigurationRequested,
    arguments.get_configuration,
    repeat_is_harmless=True,
)
CHANGE_CONFIGURATION = Operation(
    "change-configuration",
    c.RequestChangeConfiguration,
    e.ChangeConfigurationRequested,
    arguments.change_configuration,
    slot=holds("key"),
    lookups=(Lookup.CONFIGURATION,),
)
DATA_TRANSFER = Operation(
    "data-transfer", c.RequestDataTransfer, e.DataTransferRequested, arguments.data_transfer
)
UPDATE_FIRMWARE = Operation(
    "update-firmware",
    c.RequestUpdateFirmware,
    e.UpdateFirmwareRequested,
    arguments.update_firmware,
    slot=holds(),
)
GET_DIAGNOSTICS = Operation(
    "get-diagnostics",
    c.RequestGetDiagnostics,
    e.GetDiagnosticsRequested,
    arguments.get_diagnostics,
    slot=holds(),
)
GET_LOCAL_LIST_VERSION = Operation(
    "get-local-list-version",
    c.RequestGetLocalListVersion,
    e.GetLocalListVersionRequested,
    arguments.get_local_list_version,
    repeat_is_harmless=True,
)
SEND_LOCAL_LIST = Operation(
    "send-local-list",
    c.RequestSendLocalList,
    e.SendLocalListRequested,
    arguments.send_local_list,
    slot=holds(),
    lookups=(Lookup.LOCAL_LIST,),
)
RESERVE_NOW = Operation(
    "reserve-now",
    c.RequestReserveNow,
    e.ReserveNowRequested,
    arguments.reserve_now,
    lookups=(Lookup.RESERVATION_ID,),
    observe=in_doubt.reservation_took_effect,
)
CANCEL_RESERVATION = Operation(
    "cancel-reservation",
    c.RequestCancelReservation,
    e.CancelReservationRequested,
    arguments.cancel_reservation,
    slot=holds("reservation_id"),
)
SET_CHARGING_PROFILE = Operation(
    "set-charging-profile",
    c.RequestSetChargingProfile,
    e.SetChargingProfileRequested,
    arguments.set_charging_profile,
    profile_field="cs_charging_profiles",
)
CLEAR_CHARGING_PROFILE = Operation(
    "clear-charging-profile",
    c.RequestClearChargingProfile,
    e.ClearChargingProfileRequested,
    arguments.clear_charging_profile,
)
GET_COMPOSITE_SCHEDULE = Operation(
    "get-composite-schedule",
    c.RequestGetCompositeSchedule,
    e.GetCompositeScheduleRequested,
    arguments.get_composite_schedule,
    repeat_is_harmless=True,
)

GET_BASE_REPORT = Operation(
    "get-base-report",
    c.RequestGetBaseReport,
    e.GetBaseReportRequested,
    arguments.get_base_report,
    repeat_is_harmless=True,
)
"""OCPP 2.0.1 only: a 1.6 station has no such message (409 NotSupportedByProtocol)."""

GET_TRANSACTION_STATUS = Operation(
    "get-transaction-status",
    c.RequestGetTransactionStatus,
    e.GetTransactionStatusRequested,
    arguments.get_transaction_status,
    repeat_is_harmless=True,
)
"""OCPP 2.0.1 only."""

GET_CHARGING_PROFILES = Operation(
    "get-charging-profiles",
    c201.RequestGetChargingProfiles,
    e.GetChargingProfilesRequested,
    arguments_201.get_charging_profiles,
    repeat_is_harmless=True,
)
"""OCPP 2.0.1 only, as the three below: 1.6 has no such message."""

GET_REPORT = Operation(
    "get-report",
    c201.RequestGetReport,
    e.GetReportRequested,
    arguments_201.get_report,
    repeat_is_harmless=True,
)
# Several variables at once; one such change at a time per station, since two could
# name the same variable (change-configuration holds one key).
SET_VARIABLES = Operation(
    "set-variables",
    c201.RequestSetVariables,
    e.SetVariablesRequested,
    arguments_201.set_variables,
    slot=holds(),
    lookups=(Lookup.CONFIGURATION,),
)
SET_NETWORK_PROFILE = Operation(
    "set-network-profile",
    c201.RequestSetNetworkProfile,
    e.SetNetworkProfileRequested,
    arguments_201.set_network_profile,
    slot=holds("configuration_slot"),
    secrets=arguments_201.NETWORK_SECRETS,
)

OPERATIONS: Mapping[str, Operation[Any]] = {
    operation.name: operation
    for operation in (
        REMOTE_START,
        REMOTE_STOP,
        UNLOCK_CONNECTOR,
        RESET,
        CHANGE_AVAILABILITY,
        TRIGGER_MESSAGE,
        CLEAR_CACHE,
        GET_CONFIGURATION,
        CHANGE_CONFIGURATION,
        DATA_TRANSFER,
        UPDATE_FIRMWARE,
        GET_DIAGNOSTICS,
        GET_LOCAL_LIST_VERSION,
        SEND_LOCAL_LIST,
        RESERVE_NOW,
        CANCEL_RESERVATION,
        SET_CHARGING_PROFILE,
        CLEAR_CHARGING_PROFILE,
        GET_COMPOSITE_SCHEDULE,
        GET_BASE_REPORT,
        GET_TRANSACTION_STATUS,
        GET_CHARGING_PROFILES,
        GET_REPORT,
        SET_VARIABLES,
        SET_NETWORK_PROFILE,
    )
}
"""Every operation by name, in the order the API lists them."""

_BY_COMMAND: Mapping[type[c.OperatorCommand], Operation[Any]] = {
    operation.command: operation for operation in OPERATIONS.values()
}
_BY_EVENT: Mapping[type[e.CommandRequested], Operation[Any]] = {
    operation.event: operation for operation in OPERATIONS.values()
}


def operation_of(event: e.CommandRequested) -> Operation[Any]:
    """The operation a ``...Requested`` event opens."""
    return _BY_EVENT[type(event)]


def operation_for(command: c.OperatorCommand) -> Operation[Any]:
    """The operation a domain command requests."""
    return _BY_COMMAND[type(command)]


def name_of(event: e.CommandRequested) -> str:
    """The operation's name, as the command view and the API show it."""
    return operation_of(event).name
