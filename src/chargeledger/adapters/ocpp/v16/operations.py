"""The operations as OCPP 1.6 speaks them: one ``OperationSpec`` each, in the order the
API lists them. The API's names and bodies, and the dispatcher's CALLs and outcomes,
are derived from ``SPECS``.

Which answers count as accepted (anything else ends ``rejected``):

- ChangeAvailability ``Scheduled`` (the station switches once its session ends).
- ChangeConfiguration ``RebootRequired``: the station stored the value, which takes
  effect after a reset; ``Rejected`` and ``NotSupported`` are refusals (after a
  NotSupported the key is refused before it is sent again: domain/configuration.py).
- GetDiagnostics without a ``fileName``: the station has nothing to upload; the
  command did what it could, so accepted, and its detail says so.
- GetConfiguration, UpdateFirmware: their answers carry no status; an answer is
  acceptance. GetLocalListVersion ``-1`` says the station keeps no local list:
  rejected (NotSupported).
- SendLocalList ``Failed``, ``VersionMismatch``, ``NotSupported``; ReserveNow
  ``Faulted``, ``Occupied``, ``Unavailable``, ``Rejected``; ClearChargingProfile
  ``Unknown``: refusals, each explained.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeledger.adapters.ocpp.spec import OperationSpec, SpokenOperations, camel
from chargeledger.adapters.ocpp.v16 import bodies as b
from chargeledger.domain import operations as o
from chargeledger.domain.enums import MessageTrigger


def _answered(result: Mapping[str, Any]) -> str:
    return "Accepted"


def _remote_start(payload: Mapping[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {"idTag": payload["id_tag"]}
    if payload.get("connector_id") is not None:  # else the station picks one
        call["connectorId"] = payload["connector_id"]
    if payload.get("charging_profile") is not None:
        call["chargingProfile"] = camel(payload["charging_profile"])
    return call


def _remote_stop(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"transactionId": payload["transaction_id"]}


def _unlock_connector(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"connectorId": payload["connector_id"]}


def _reset(payload: Mapping[str, Any]) -> dict[str, Any]:
    if payload.get("evse_id") is not None:
        raise ValueError("a 1.6 station resets as a whole: leave out evse_id")
    return {"type": payload["type"]}


def _change_availability(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"connectorId": payload["connector_id"], "type": payload["type"]}


TRIGGERS = {MessageTrigger.LOG_STATUS_NOTIFICATION: MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION}
"""2.0.1's names of what 1.6 can trigger under another name."""

TRIGGERABLE = frozenset(
    {
        MessageTrigger.BOOT_NOTIFICATION,
        MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION,
        MessageTrigger.FIRMWARE_STATUS_NOTIFICATION,
        MessageTrigger.HEARTBEAT,
        MessageTrigger.METER_VALUES,
        MessageTrigger.STATUS_NOTIFICATION,
    }
)
"""What a 1.6 TriggerMessage may ask for (the security extension's certificate and log
triggers are another message, ExtendedTriggerMessage)."""


def _trigger_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    wanted = payload["requested_message"]
    wanted = TRIGGERS.get(wanted, wanted)
    if wanted not in TRIGGERABLE:
        raise ValueError(f"a 1.6 TriggerMessage cannot ask for {wanted}")
    call = {"requestedMessage": wanted}
    if payload.get("connector_id") is not None:
        call["connectorId"] = payload["connector_id"]
    return call


SPECS: tuple[OperationSpec, ...] = (
    OperationSpec(o.REMOTE_START, b.RemoteStartBody, "RemoteStartTransaction", _remote_start),
    OperationSpec(
        o.REMOTE_STOP,
        b.RemoteStopBody,
        "RemoteStopTransaction",
        _remote_stop,
        details={
            "Rejected": "the station has no transaction {transaction_id} to stop: it "
            "runs no such transaction (never started there, or lost in a reboot or a "
            "reset); if GET /api/transactions/{transaction_id} shows it open, close it: "
            "POST /api/transactions/{transaction_id}/close"
        },
    ),
    OperationSpec(
        o.UNLOCK_CONNECTOR,
        b.UnlockConnectorBody,
        "UnlockConnector",
        _unlock_connector,
        frozenset({"Unlocked"}),
    ),
    OperationSpec(o.RESET, b.ResetBody, "Reset", _reset),
    OperationSpec(
        o.CHANGE_AVAILABILITY,
        b.ChangeAvailabilityBody,
        "ChangeAvailability",
        _change_availability,
        frozenset({"Accepted", "Scheduled"}),
    ),
    OperationSpec(
        o.TRIGGER_MESSAGE,
        b.TriggerMessageBody,
        "TriggerMessage",
        _trigger_message,
        details={"NotImplemented": "the station cannot send {requested_message} on request"},
    ),
    OperationSpec(o.CLEAR_CACHE, b.ClearCacheBody, "ClearCache"),
    OperationSpec(
        o.GET_CONFIGURATION, b.GetConfigurationBody, "GetConfiguration", status_of=_answered
    ),
    OperationSpec(
        o.CHANGE_CONFIGURATION,
        b.ChangeConfigurationBody,
        "ChangeConfiguration",
        accepted_statuses=frozenset({"Accepted", "RebootRequired"}),
        details={
            "RebootRequired": "stored; {key} takes effect after the station resets",
            "Rejected": "the station refused {key} = {value!r}",
            "NotSupported": "the station does not support configuration key {key}",
        },
    ),
    OperationSpec(
        o.DATA_TRANSFER,
        b.DataTransferBody,
        "DataTransfer",
        details={
            "UnknownVendorId": "the station knows no vendor {vendor_id}",
            "UnknownMessageId": "the station knows no message {message_id} of vendor {vendor_id}",
        },
    ),
    OperationSpec(
        o.UPDATE_FIRMWARE,
        b.UpdateFirmwareBody,
        "UpdateFirmware",
        status_of=_answered,
        details={
            "Accepted": "the station fetches the firmware from {retrieve_date} on; its "
            "FirmwareStatusNotifications show in the station view"
        },
    ),
    OperationSpec(
        o.GET_DIAGNOSTICS,
        b.GetDiagnosticsBody,
        "GetDiagnostics",
        accepted_statuses=frozenset({"Accepted", "NoFile"}),
        status_of=lambda result: "Accepted" if result.get("fileName") else "NoFile",
        details={
            "Accepted": "the station uploads its diagnostics to {location}",
            "NoFile": "the station has no diagnostics to upload",
        },
    ),
    OperationSpec(
        o.GET_LOCAL_LIST_VERSION,
        b.GetLocalListVersionBody,
        "GetLocalListVersion",
        status_of=lambda result: "NotSupported" if result.get("listVersion") == -1 else "Accepted",
        details={"NotSupported": "the station keeps no local authorization list"},
    ),
    OperationSpec(
        o.SEND_LOCAL_LIST,
        b.SendLocalListBody,
        "SendLocalList",
        details={
            "VersionMismatch": "the station's list version does not fit {list_version}; "
            "send a Full list",
            "Failed": "the station could not apply the list; send a Full list",
            "NotSupported": "the station keeps no local authorization list",
        },
    ),
    OperationSpec(
        o.RESERVE_NOW,
        b.ReserveNowBody,
        "ReserveNow",
        details={
            status: f"the station answered {status}: reservation {{reservation_id}} ended"
            for status in ("Faulted", "Occupied", "Rejected", "Unavailable")
        },
    ),
    OperationSpec(
        o.CANCEL_RESERVATION,
        b.CancelReservationBody,
        "CancelReservation",
        details={"Rejected": "the station holds no reservation {reservation_id}"},
    ),
    OperationSpec(
        o.SET_CHARGING_PROFILE,
        b.SetChargingProfileBody,
        "SetChargingProfile",
        details={
            "Rejected": "the station refused the charging profile",
            "NotSupported": "the station does not do smart charging",
        },
    ),
    OperationSpec(
        o.CLEAR_CHARGING_PROFILE,
        b.ClearChargingProfileBody,
        "ClearChargingProfile",
        details={"Unknown": "the station holds no charging profile that matches"},
    ),
    OperationSpec(
        o.GET_COMPOSITE_SCHEDULE,
        b.GetCompositeScheduleBody,
        "GetCompositeSchedule",
        details={"Rejected": "the station cannot tell its schedule for connector {connector_id}"},
    ),
)

OCPP16 = SpokenOperations(
    SPECS, ("TriggerMessage", {"requestedMessage": MessageTrigger.STATUS_NOTIFICATION})
)
"""The dispatcher's ``StationProtocol`` for OCPP 1.6 stations."""
