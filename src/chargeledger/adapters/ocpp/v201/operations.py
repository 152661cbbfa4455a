"""The operations as OCPP 2.0.1 speaks them: one ``OperationSpec`` each, on the same
domain operations and API bodies as 1.6 (``v16/bodies.py``), so a command is requested
the same way whichever version its station speaks. 2.0.1 says every operation 1.6
says; its own (get-base-report, get-transaction-status, and those of the modules
below) are refused for a 1.6 station (409 ``NotSupportedByProtocol``). By family:
smart charging in ``smart_charging``, the local list in ``local_list``, reports,
several variables and the network profile in ``device_model``; the rest here.

How the 1.6 arguments read in 2.0.1 (the domain's ``connector_id`` is the EVSE: what
1.6 calls a connector, 2.0.1 calls an EVSE, and the business rules, one pending remote
start per EVSE among them, hold per EVSE for both):

- remote-start: RequestStartTransaction, ``evseId`` the connector id, the id tag a
  ``Central`` IdToken, ``remoteStartId`` a number made from the command id, a TxProfile
  as ``smart_charging`` says a profile.
- remote-stop: RequestStopTransaction with the station's own ``transactionId`` (the
  string the station named it by; the domain keeps it beside our integer id).
- reset: Soft is ``OnIdle``, Hard is ``Immediate``; ``evse_id`` resets one EVSE (2.0.1
  only: a 1.6 station refuses it).
- change-availability: ``operationalStatus``; connector 0, the whole station, sends no
  ``evse``. unlock-connector: the EVSE's connector 1.
- trigger-message: DiagnosticsStatusNotification is ``LogStatusNotification``.
- get-configuration / change-configuration: GetVariables / SetVariables, a key written
  ``Component/Variable`` (``OCPPCommCtrlr/HeartbeatInterval``). get-configuration of
  every key (none named) is GetBaseReport of the ``ConfigurationInventory`` (B07: the
  variables an operator can set, 1.6's configuration keys): the station answers
  whether it reports, and the report comes by NotifyReport, into the station view's
  ``device_model``; like a GetVariables, a question, asked again when in doubt.
- get-diagnostics: GetLog of the ``DiagnosticsLog``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeledger.adapters.ocpp.schemas import OCPP201
from chargeledger.adapters.ocpp.spec import OperationSpec, SpokenOperations
from chargeledger.adapters.ocpp.v16 import bodies as b
from chargeledger.adapters.ocpp.v201 import device_model, local_list, smart_charging
from chargeledger.adapters.ocpp.v201.bodies import GetBaseReportBody, GetTransactionStatusBody
from chargeledger.adapters.ocpp.v201.device_model import variable
from chargeledger.adapters.ocpp.v201.smart_charging import charging_profile
from chargeledger.domain import operations as o

CENTRAL = "Central"
"""The IdToken type of a token the CSMS sends (a remote start, a reservation)."""

RESET_TYPES = {"Soft": "OnIdle", "Hard": "Immediate"}
TRIGGERS = {"DiagnosticsStatusNotification": "LogStatusNotification"}


def _remote_start(payload: Mapping[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {
        "idToken": {"idToken": payload["id_tag"], "type": CENTRAL},
        "remoteStartId": payload["request_id"],
    }
    if payload.get("connector_id") is not None:  # else the station picks the EVSE
        call["evseId"] = payload["connector_id"]
    if payload.get("charging_profile") is not None:  # a TxProfile, without transactionId
        call["chargingProfile"] = charging_profile(payload["charging_profile"])
    return call


def _remote_stop(payload: Mapping[str, Any]) -> dict[str, Any]:
    station_id = payload.get("station_transaction_id")
    return {"transactionId": station_id or str(payload["transaction_id"])}


def _unlock_connector(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"evseId": payload["connector_id"], "connectorId": 1}


def _reset(payload: Mapping[str, Any]) -> dict[str, Any]:
    call = {"type": RESET_TYPES.get(payload["type"], payload["type"])}
    if payload.get("evse_id") is not None:
        call["evseId"] = payload["evse_id"]
    return call


def _change_availability(payload: Mapping[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {"operationalStatus": payload["type"]}
    if payload["connector_id"]:
        call["evse"] = {"id": payload["connector_id"]}
    return call


def _trigger_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    wanted = payload["requested_message"]
    call: dict[str, Any] = {"requestedMessage": TRIGGERS.get(wanted, wanted)}
    if payload.get("connector_id"):
        call["evse"] = {"id": payload["connector_id"]}
    return call


EVERY_KEY = "ConfigurationInventory"
"""The base report 2.0.1 gives for 1.6's GetConfiguration without keys."""


def _get_variables(payload: Mapping[str, Any]) -> dict[str, Any]:
    keys = payload.get("key") or []
    if not keys:
        return {"requestId": payload["request_id"], "reportBase": EVERY_KEY}
    return {"getVariableData": [variable(key) for key in keys]}


def _get_variables_action(payload: Mapping[str, Any]) -> str:
    return "GetVariables" if payload.get("key") else "GetBaseReport"


def _configuration_status(result: Mapping[str, Any]) -> str:
    """A GetVariables answer holds the values, each with its own status: ``Accepted``.
    GetBaseReport's (every key) says whether the report comes: ``Reporting`` if so."""
    if "status" not in result:
        return "Accepted"
    return "Reporting" if result["status"] == "Accepted" else str(result["status"])


def _set_variables(payload: Mapping[str, Any]) -> dict[str, Any]:
    wanted = {**variable(payload["key"]), "attributeValue": payload["value"]}
    return {"setVariableData": [wanted]}


def _first_attribute_status(result: Mapping[str, Any]) -> Any:
    results = result.get("setVariableResult") or [{}]
    return results[0].get("attributeStatus")


def _data_transfer(payload: Mapping[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {"vendorId": payload["vendor_id"]}
    for field, name in (("message_id", "messageId"), ("data", "data")):
        if payload.get(field) is not None:
            call[name] = payload[field]
    return call


def _retries(payload: Mapping[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    if payload.get("retries") is not None:
        call["retries"] = payload["retries"]
    if payload.get("retry_interval") is not None:
        call["retryInterval"] = payload["retry_interval"]
    return call


def _get_log(payload: Mapping[str, Any]) -> dict[str, Any]:
    log: dict[str, Any] = {"remoteLocation": payload["location"]}
    if payload.get("start_time") is not None:
        log["oldestTimestamp"] = payload["start_time"]
    if payload.get("stop_time") is not None:
        log["latestTimestamp"] = payload["stop_time"]
    call = {"logType": "DiagnosticsLog", "requestId": payload["request_id"], "log": log}
    return _retries(payload, call)


def _update_firmware(payload: Mapping[str, Any]) -> dict[str, Any]:
    firmware = {"location": payload["location"], "retrieveDateTime": payload["retrieve_date"]}
    return _retries(payload, {"requestId": payload["request_id"], "firmware": firmware})


def _reserve_now(payload: Mapping[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": payload["reservation_id"],
        "expiryDateTime": payload["expiry_date"],
        "idToken": {"idToken": payload["id_tag"], "type": CENTRAL},
    }
    if payload.get("connector_id"):
        call["evseId"] = payload["connector_id"]
    if payload.get("parent_id_tag"):
        call["groupIdToken"] = {"idToken": payload["parent_id_tag"], "type": CENTRAL}
    return call


def _get_base_report(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"requestId": payload["request_id"], "reportBase": payload["report_base"]}


def _get_transaction_status(payload: Mapping[str, Any]) -> dict[str, Any]:
    if payload.get("transaction_id") is None:
        return {}
    return {
        "transactionId": payload.get("station_transaction_id") or str(payload["transaction_id"])
    }


def _transaction_status(result: Mapping[str, Any]) -> str:
    return "Waiting" if result.get("messagesInQueue") else "Accepted"


def _cancel_reservation(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"reservationId": payload["reservation_id"]}


SPECS: tuple[OperationSpec, ...] = (
    OperationSpec(
        o.REMOTE_START,
        b.RemoteStartBody,
        "RequestStartTransaction",
        _remote_start,
        numbered=True,
    ),
    OperationSpec(
        o.REMOTE_STOP,
        b.RemoteStopBody,
        "RequestStopTransaction",
        _remote_stop,
        details={"Rejected": "the station runs no transaction {transaction_id} to stop"},
    ),
    OperationSpec(
        o.UNLOCK_CONNECTOR,
        b.UnlockConnectorBody,
        "UnlockConnector",
        _unlock_connector,
        frozenset({"Unlocked"}),
    ),
    OperationSpec(o.RESET, b.ResetBody, "Reset", _reset, frozenset({"Accepted", "Scheduled"})),
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
        o.GET_CONFIGURATION,
        b.GetConfigurationBody,
        "GetVariables",
        _get_variables,
        frozenset({"Accepted", "Reporting", "EmptyResultSet"}),
        status_of=_configuration_status,
        numbered=True,
        action_of=_get_variables_action,
        details={
            "Reporting": f"the station reports its {EVERY_KEY} (NotifyReport): the "
            "station view's device_model",
            "EmptyResultSet": f"the station has no {EVERY_KEY} to report",
            "NotSupported": f"the station cannot report its {EVERY_KEY}",
            "Rejected": f"the station refused to report its {EVERY_KEY}",
        },
    ),
    OperationSpec(
        o.CHANGE_CONFIGURATION,
        b.ChangeConfigurationBody,
        "SetVariables",
        _set_variables,
        accepted_statuses=frozenset({"Accepted", "RebootRequired"}),
        status_of=_first_attribute_status,
        details={
            "RebootRequired": "stored; {key} takes effect after the station resets",
            "Rejected": "the station refused {key} = {value!r}",
            "UnknownComponent": "the station has no component of {key}",
            "UnknownVariable": "the station has no variable {key}",
        },
    ),
    OperationSpec(
        o.DATA_TRANSFER,
        b.DataTransferBody,
        "DataTransfer",
        _data_transfer,
        details={
            "UnknownVendorId": "the station knows no vendor {vendor_id}",
            "UnknownMessageId": "the station knows no message {message_id} of vendor {vendor_id}",
        },
    ),
    OperationSpec(
        o.UPDATE_FIRMWARE,
        b.UpdateFirmwareBody,
        "UpdateFirmware",
        _update_firmware,
        numbered=True,
    ),
    OperationSpec(
        o.GET_DIAGNOSTICS,
        b.GetDiagnosticsBody,
        "GetLog",
        _get_log,
        numbered=True,
        details={"Accepted": "the station uploads its diagnostics log to {location}"},
    ),
    OperationSpec(
        o.RESERVE_NOW,
        b.ReserveNowBody,
        "ReserveNow",
        _reserve_now,
        details={
            status: f"the station answered {status}: reservation {{reservation_id}} ended"
            for status in ("Faulted", "Occupied", "Rejected", "Unavailable")
        },
    ),
    OperationSpec(
        o.CANCEL_RESERVATION,
        b.CancelReservationBody,
        "CancelReservation",
        _cancel_reservation,
        details={"Rejected": "the station holds no reservation {reservation_id}"},
    ),
    OperationSpec(
        o.GET_BASE_REPORT,
        GetBaseReportBody,
        "GetBaseReport",
        _get_base_report,
        frozenset({"Accepted", "EmptyResultSet"}),
        numbered=True,
        details={
            "Accepted": "the station reports its {report_base} (NotifyReport): the "
            "station view's device_model",
            "EmptyResultSet": "the station has nothing to report for {report_base}",
            "NotSupported": "the station cannot report its {report_base}",
        },
    ),
    OperationSpec(
        o.GET_TRANSACTION_STATUS,
        GetTransactionStatusBody,
        "GetTransactionStatus",
        _get_transaction_status,
        frozenset({"Accepted", "Waiting"}),
        status_of=_transaction_status,
        details={"Waiting": "the station still has messages to send"},
    ),
    *local_list.SPECS,
    *smart_charging.SPECS,
    *device_model.SPECS,
)

OCPP201_OPERATIONS = SpokenOperations(
    SPECS,
    ("TriggerMessage", {"requestedMessage": "TransactionEvent"}),
    OCPP201,
    checks_calls=True,
)
"""The dispatcher's ``StationProtocol`` for OCPP 2.0.1 stations. Reconciling asks for
TransactionEvents: the station reports each transaction it runs (triggerReason
``Trigger``), which shows whether a remote start or stop took effect."""

PROTOCOL = OCPP201
