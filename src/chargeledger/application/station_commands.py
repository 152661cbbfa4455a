"""The operator commands a station can be sent, and how each maps onto OCPP 1.6.

A spec names the OCPP action, turns the stored payload (snake_case, as the API
body) into the CALL payload (camelCase), and says which answer statuses count as
accepted. ChangeAvailability's ``Scheduled`` (the station will switch once its
session ends) counts as accepted; the answer is kept as the command's result, so
the operator still sees ``{"status": "Scheduled"}``.

``REPEAT_IS_HARMLESS`` names the commands that may be sent again when their fate
is in doubt after a crash; every other command is reconciled, never re-sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StationCommandSpec:
    name: str
    action: str
    to_ocpp: Callable[[Mapping[str, Any]], dict[str, Any]]
    accepted_statuses: frozenset[str] = frozenset({"Accepted"})


def _remote_start(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"connectorId": payload["connector_id"], "idTag": payload["id_tag"]}


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
        StationCommandSpec("remote-stop", "RemoteStopTransaction", _remote_stop),
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
        StationCommandSpec("trigger-message", "TriggerMessage", _trigger_message),
    )
}

# Asking a station again to send a message, or to report its configuration, changes
# nothing on it; these are re-sent when their fate is in doubt instead of reconciled.
REPEAT_IS_HARMLESS: frozenset[str] = frozenset({"trigger-message"})


def outcome_of(spec: StationCommandSpec, result: Mapping[str, Any]) -> str:
    """``accepted`` or ``rejected``, by the answer's own status enum."""
    status = result.get("status")
    return "accepted" if status in spec.accepted_statuses else "rejected"
