"""How each operator command maps onto its OCPP 1.6 CALL and answer."""

from __future__ import annotations

import pytest

from chargeledger.adapters.ocpp.v16.operations import OCPP16

SPECS = OCPP16.specs


@pytest.mark.parametrize(
    ("name", "payload", "action", "call"),
    [
        (
            "remote-start",
            {"connector_id": 1, "id_tag": "T"},
            "RemoteStartTransaction",
            {"connectorId": 1, "idTag": "T"},
        ),
        ("remote-stop", {"transaction_id": 7}, "RemoteStopTransaction", {"transactionId": 7}),
        ("unlock-connector", {"connector_id": 2}, "UnlockConnector", {"connectorId": 2}),
        ("reset", {"type": "Hard"}, "Reset", {"type": "Hard"}),
        (
            "change-availability",
            {"connector_id": 0, "type": "Inoperative"},
            "ChangeAvailability",
            {"connectorId": 0, "type": "Inoperative"},
        ),
        (
            "trigger-message",
            {"requested_message": "Heartbeat", "connector_id": None},
            "TriggerMessage",
            {"requestedMessage": "Heartbeat"},
        ),
        (
            "trigger-message",
            {"requested_message": "StatusNotification", "connector_id": 1},
            "TriggerMessage",
            {"requestedMessage": "StatusNotification", "connectorId": 1},
        ),
    ],
)
def test_the_payload_becomes_the_ocpp_call(
    name: str, payload: dict[str, object], action: str, call: dict[str, object]
) -> None:
    spec = SPECS[name]
    assert (spec.action, spec.to_call(payload)) == (action, call) == OCPP16.call(name, payload)


@pytest.mark.parametrize(
    ("name", "status", "outcome"),
    [
        ("change-availability", "Scheduled", "accepted"),
        ("change-availability", "Rejected", "rejected"),
        ("unlock-connector", "Unlocked", "accepted"),
        ("unlock-connector", "UnlockFailed", "rejected"),
        ("unlock-connector", "NotSupported", "rejected"),
        ("trigger-message", "NotImplemented", "rejected"),
        ("reset", "Accepted", "accepted"),
    ],
)
def test_which_answers_count_as_accepted(name: str, status: str, outcome: str) -> None:
    assert SPECS[name].outcome_of({"status": status}) == outcome
