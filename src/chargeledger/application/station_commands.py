"""The operator commands a station can be sent, and how each maps onto OCPP 1.6.

A spec names the OCPP action, turns the stored payload (snake_case, as the API
body) into the CALL payload (camelCase, unset fields left out), and says which
answer statuses count as accepted; ``details`` says what a status means, in the
command's ``detail``. The answer is always kept as the command's ``result``.

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

``REPEAT_IS_HARMLESS`` names the commands that may be sent again when their fate
is in doubt after a crash; every other command is reconciled, never re-sent.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chargeledger.domain.enums import Outcome


def _status(result: Mapping[str, Any]) -> Any:
    return result.get("status")


@dataclass(frozen=True)
class StationCommandSpec:
    name: str
    action: str
    to_ocpp: Callable[[Mapping[str, Any]], dict[str, Any]]
    accepted_statuses: frozenset[str] = frozenset({"Accepted"})
    status_of: Callable[[Mapping[str, Any]], Any] = _status
    """The answer's status; an answer without one is given one here."""
    details: Mapping[str, str] = field(default_factory=dict)
    """What each status means; ``{field}`` is filled from the command's payload."""


_CAMEL = re.compile(r"_([a-z])")


def camel(value: Any) -> Any:
    """snake_case keys to camelCase, all the way down; ``None`` values left out."""
    if isinstance(value, Mapping):
        return {
            _CAMEL.sub(lambda m: m.group(1).upper(), key): camel(item)
            for key, item in value.items()
            if item is not None
        }
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


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
    return {"type": payload["type"]}


def _change_availability(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"connectorId": payload["connector_id"], "type": payload["type"]}


def _trigger_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    call = {"requestedMessage": payload["requested_message"]}
    if payload.get("connector_id") is not None:
        call["connectorId"] = payload["connector_id"]
    return call


SPECS: dict[str, StationCommandSpec] = {
    spec.name: spec
    for spec in (
        StationCommandSpec("remote-start", "RemoteStartTransaction", _remote_start),
        StationCommandSpec(
            "remote-stop",
            "RemoteStopTransaction",
            _remote_stop,
            details={
                "Rejected": "the station has no transaction {transaction_id} to stop: it "
                "runs no such transaction (never started there, or lost in a reboot or a "
                "reset); if GET /api/transactions/{transaction_id} shows it open, close it: "
                "POST /api/transactions/{transaction_id}/close"
            },
        ),
        StationCommandSpec(
            "unlock-connector", "UnlockConnector", _unlock_connector, frozenset({"Unlocked"})
        ),
        StationCommandSpec("reset", "Reset", _reset),
        StationCommandSpec(
            "change-availability",
            "ChangeAvailability",
            _change_availability,
            frozenset({"Accepted", "Scheduled"}),
        ),
        StationCommandSpec(
            "trigger-message",
            "TriggerMessage",
            _trigger_message,
            details={"NotImplemented": "the station cannot send {requested_message} on request"},
        ),
        StationCommandSpec("clear-cache", "ClearCache", camel),
        StationCommandSpec("get-configuration", "GetConfiguration", camel, status_of=_answered),
        StationCommandSpec(
            "change-configuration",
            "ChangeConfiguration",
            camel,
            frozenset({"Accepted", "RebootRequired"}),
            details={
                "RebootRequired": "stored; {key} takes effect after the station resets",
                "Rejected": "the station refused {key} = {value!r}",
                "NotSupported": "the station does not support configuration key {key}",
            },
        ),
        StationCommandSpec(
            "data-transfer",
            "DataTransfer",
            camel,
            details={
                "UnknownVendorId": "the station knows no vendor {vendor_id}",
                "UnknownMessageId": "the station knows no message {message_id} "
                "of vendor {vendor_id}",
            },
        ),
        StationCommandSpec(
            "update-firmware",
            "UpdateFirmware",
            camel,
            status_of=_answered,
            details={
                "Accepted": "the station fetches the firmware from {retrieve_date} on; its "
                "FirmwareStatusNotifications show in the station view"
            },
        ),
        StationCommandSpec(
            "get-diagnostics",
            "GetDiagnostics",
            camel,
            frozenset({"Accepted", "NoFile"}),
            status_of=lambda result: "Accepted" if result.get("fileName") else "NoFile",
            details={
                "Accepted": "the station uploads its diagnostics to {location}",
                "NoFile": "the station has no diagnostics to upload",
            },
        ),
        StationCommandSpec(
            "get-local-list-version",
            "GetLocalListVersion",
            camel,
            status_of=lambda result: (
                "NotSupported" if result.get("listVersion") == -1 else "Accepted"
            ),
            details={"NotSupported": "the station keeps no local authorization list"},
        ),
        StationCommandSpec(
            "send-local-list",
            "SendLocalList",
            camel,
            details={
                "VersionMismatch": "the station's list version does not fit {list_version}; "
                "send a Full list",
                "Failed": "the station could not apply the list; send a Full list",
                "NotSupported": "the station keeps no local authorization list",
            },
        ),
        StationCommandSpec(
            "reserve-now",
            "ReserveNow",
            camel,
            details={
                status: f"the station answered {status}: reservation {{reservation_id}} ended"
                for status in ("Faulted", "Occupied", "Rejected", "Unavailable")
            },
        ),
        StationCommandSpec(
            "cancel-reservation",
            "CancelReservation",
            camel,
            details={"Rejected": "the station holds no reservation {reservation_id}"},
        ),
        StationCommandSpec(
            "set-charging-profile",
            "SetChargingProfile",
            camel,
            details={
                "Rejected": "the station refused the charging profile",
                "NotSupported": "the station does not do smart charging",
            },
        ),
        StationCommandSpec(
            "clear-charging-profile",
            "ClearChargingProfile",
            camel,
            details={"Unknown": "the station holds no charging profile that matches"},
        ),
        StationCommandSpec(
            "get-composite-schedule",
            "GetCompositeSchedule",
            camel,
            details={
                "Rejected": "the station cannot tell its schedule for connector {connector_id}"
            },
        ),
    )
}

REPEAT_IS_HARMLESS: frozenset[str] = frozenset(
    {
        # Each of these only asks the station something; a second asking leaves it as
        # it was. Not so: clear-cache (the cache may have refilled in between, and a
        # repeat empties it again), get-diagnostics (a second upload of the station's
        # log), update-firmware and set-charging-profile (they change the station),
        # data-transfer (whatever the vendor's message does), and the rest.
        "trigger-message",
        "get-configuration",
        "get-local-list-version",
        "get-composite-schedule",
    }
)


def outcome_of(spec: StationCommandSpec, result: Mapping[str, Any]) -> Outcome:
    """``ACCEPTED`` or ``REJECTED``, by the answer's own status enum."""
    status = spec.status_of(result)
    return Outcome.ACCEPTED if status in spec.accepted_statuses else Outcome.REJECTED


def detail_of(
    spec: StationCommandSpec, payload: Mapping[str, Any], result: Mapping[str, Any]
) -> str:
    """What the answer means, in words, or ``""`` when its status says it all."""
    template = spec.details.get(spec.status_of(result))
    if template is None:
        return ""
    known = {name: "" if value is None else value for name, value in payload.items()}
    return template.format_map(defaultdict(str, known))
