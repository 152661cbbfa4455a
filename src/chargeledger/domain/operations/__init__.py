"""The operations an operator can send a station: one ``Operation`` each, declared once
here, in the order the API lists them. Every table about them (the API's names, the
CLI's ``send``, the slots, the reconciliation of a dispatch in doubt, where a charging
profile rides) is derived from ``OPERATIONS``; how each travels in a protocol version
is that version's table (``adapters/ocpp/v16/operations.py``).

Adding an operation: its command (``commands``) and event (``events``) types, its
checks (``arguments``), its entry here (with what it needs looked up before deciding,
``lookups``), and its entry in each protocol version's table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeledger.domain import commands as c
from chargeledger.domain import commands_201 as c201
from chargeledger.domain import events as e
from chargeledger.domain.operations import arguments, arguments_201, in_doubt
from chargeledger.domain.operations.spec import Arguments, Common, Lookup, Operation, holds


def _remote_start(args: Arguments, common: Common) -> c.OperatorCommand:
    return c.RequestRemoteStart(
        connector_id=args.get("connector_id"),
        id_tag=args["id_tag"],
        charging_profile=args.get("charging_profile"),
        id_tag_status=args.get("id_tag_status"),
        force=bool(args.get("force", False)),
        **common,
    )


def _remote_start_slot(payload: Arguments) -> tuple[object, ...]:
    if payload.get("connector_id") is None:  # the station picks: one per id tag
        return (None, payload["id_tag"])
    return (payload["connector_id"],)


def _reset(args: Arguments, common: Common) -> c.OperatorCommand:
    return c.RequestReset(reset_type=args["type"], evse_id=args.get("evse_id"), **common)


def _change_availability(args: Arguments, common: Common) -> c.OperatorCommand:
    return c.RequestChangeAvailability(
        connector_id=args["connector_id"], availability_type=args["type"], **common
    )


REMOTE_START = Operation(
    "remote-start",
    c.RequestRemoteStart,
    e.RemoteStartRequested,
    arguments.remote_start,
    slot=_remote_start_slot,
    build=_remote_start,
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
    "reset", c.RequestReset, e.ResetRequested, arguments.reset, slot=holds(), build=_reset
)
CHANGE_AVAILABILITY = Operation(
    "change-availability",
    c.RequestChangeAvailability,
    e.AvailabilityChangeRequested,
    arguments.change_availability,
    slot=holds("connector_id"),
    build=_change_availability,
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
