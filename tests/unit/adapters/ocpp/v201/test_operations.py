"""How each operator command maps onto its OCPP 2.0.1 CALL and answer: the same domain
operations and API bodies as 1.6, said the 2.0.1 way."""

from __future__ import annotations

from typing import Any

import pytest

from chargeledger.adapters.ocpp import schemas
from chargeledger.adapters.ocpp.spec import request_number
from chargeledger.adapters.ocpp.v16.operations import OCPP16
from chargeledger.adapters.ocpp.v201.operations import OCPP201_OPERATIONS as OCPP201
from chargeledger.domain.enums import Outcome
from tests.unit.adapters.ocpp.v16.test_operation_answers import PAYLOADS

CALLS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    (
        "remote-start",
        {"connector_id": 2, "id_tag": "T"},
        "RequestStartTransaction",
        {
            "idToken": {"idToken": "T", "type": "Central"},
            "remoteStartId": request_number("c-1"),
            "evseId": 2,
        },
    ),
    (
        "remote-stop",
        {"transaction_id": 7, "station_transaction_id": "TX-9"},
        "RequestStopTransaction",
        {"transactionId": "TX-9"},
    ),
    ("reset", {"type": "Hard"}, "Reset", {"type": "Immediate"}),
    ("reset", {"type": "Soft"}, "Reset", {"type": "OnIdle"}),
    (
        "change-availability",
        {"connector_id": 0, "type": "Inoperative"},
        "ChangeAvailability",
        {"operationalStatus": "Inoperative"},
    ),
    (
        "change-availability",
        {"connector_id": 1, "type": "Operative"},
        "ChangeAvailability",
        {"operationalStatus": "Operative", "evse": {"id": 1}},
    ),
    ("unlock-connector", {"connector_id": 2}, "UnlockConnector", {"evseId": 2, "connectorId": 1}),
    (
        "trigger-message",
        {"requested_message": "DiagnosticsStatusNotification", "connector_id": None},
        "TriggerMessage",
        {"requestedMessage": "LogStatusNotification"},
    ),
    ("clear-cache", {}, "ClearCache", {}),
    (
        "get-transaction-status",
        {"transaction_id": 7, "station_transaction_id": "TX-9"},
        "GetTransactionStatus",
        {"transactionId": "TX-9"},
    ),
    ("get-transaction-status", {"transaction_id": None}, "GetTransactionStatus", {}),
    (
        "get-base-report",
        {"report_base": "FullInventory"},
        "GetBaseReport",
        {"requestId": request_number("c-1"), "reportBase": "FullInventory"},
    ),
    (
        "get-configuration",
        {"key": ["OCPPCommCtrlr/HeartbeatInterval"]},
        "GetVariables",
        {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        },
    ),
    (
        "change-configuration",
        {"key": "OCPPCommCtrlr/HeartbeatInterval", "value": "60"},
        "SetVariables",
        {
            "setVariableData": [
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                    "attributeValue": "60",
                }
            ]
        },
    ),
]


@pytest.mark.parametrize(("name", "payload", "action", "call"), CALLS)
def test_the_payload_becomes_the_2_0_1_call_which_passes_its_schema(
    name: str, payload: dict[str, Any], action: str, call: dict[str, Any]
) -> None:
    assert OCPP201.call(name, payload, "c-1") == (action, call)
    schemas.check(action, call, schemas.OCPP201)


@pytest.mark.parametrize("name", sorted(set(PAYLOADS) & set(OCPP201.specs)))
def test_each_spoken_operation_s_call_passes_the_2_0_1_schema(name: str) -> None:
    payload = {**PAYLOADS[name], "key": ["A/B"]} if name == "get-configuration" else PAYLOADS[name]
    if name == "change-configuration":
        payload = {**payload, "key": "OCPPCommCtrlr/HeartbeatInterval"}
    action, call = OCPP201.call(name, payload, "c-1")
    schemas.check(action, call, schemas.OCPP201)


def test_the_same_command_gets_the_same_request_number_on_every_attempt() -> None:
    first = OCPP201.call("remote-start", {"connector_id": None, "id_tag": "T"}, "k-1")
    again = OCPP201.call("remote-start", {"connector_id": None, "id_tag": "T"}, "k-1")
    other = OCPP201.call("remote-start", {"connector_id": None, "id_tag": "T"}, "k-2")
    assert first == again != other
    assert "evseId" not in first[1]  # the station picks the EVSE


def test_an_operation_without_a_1_6_message_is_unspeakable_and_says_so() -> None:
    assert not OCPP16.speaks("get-report")
    reason = OCPP16.unspeakable("get-report", {})
    assert reason is not None and "OCPP 1.6" in reason
    assert OCPP16.unspeakable("set-charging-profile", PAYLOADS["set-charging-profile"]) is None
    assert set(OCPP16.specs) <= set(OCPP201.specs)  # 2.0.1 says every operation 1.6 says


def test_a_configuration_key_without_its_component_is_unspeakable_in_2_0_1() -> None:
    reason = OCPP201.unspeakable("change-configuration", {"key": "HeartbeatInterval", "value": "1"})
    assert reason is not None and "Component/Variable" in reason
    reason = OCPP201.unspeakable("get-configuration", {"key": ["HeartbeatInterval"]})
    assert reason is not None and "Component/Variable" in reason


@pytest.mark.parametrize("payload", [{}, {"key": None}, {"key": []}])
def test_get_configuration_of_every_key_asks_for_the_configuration_inventory(
    payload: dict[str, Any],
) -> None:
    """Given no key, when get-configuration goes to a 2.0.1 station, then it is the base
    report of the variables an operator can set (B07), numbered by the command."""
    assert OCPP201.unspeakable("get-configuration", payload) is None
    action, call = OCPP201.call("get-configuration", payload, "c-1")
    assert (action, call) == (
        "GetBaseReport",
        {"requestId": request_number("c-1"), "reportBase": "ConfigurationInventory"},
    )
    schemas.check(action, call, schemas.OCPP201)
    assert OCPP16.call("get-configuration", payload)[0] == "GetConfiguration"  # 1.6 unchanged


@pytest.mark.parametrize(
    ("answer", "outcome", "detail"),
    [
        ({"status": "Accepted"}, Outcome.ACCEPTED, "reports its ConfigurationInventory"),
        ({"status": "EmptyResultSet"}, Outcome.ACCEPTED, "no ConfigurationInventory"),
        ({"status": "NotSupported"}, Outcome.REJECTED, "cannot report"),
        ({"status": "Rejected"}, Outcome.REJECTED, "refused to report"),
        ({"getVariableResult": []}, Outcome.ACCEPTED, ""),
    ],
)
def test_what_a_get_configuration_answer_means(
    answer: dict[str, Any], outcome: Outcome, detail: str
) -> None:
    got, said = OCPP201.answer("get-configuration", {}, answer)
    assert got == outcome
    assert detail in said and (said == "") == (detail == "")


@pytest.mark.parametrize(
    ("name", "answer", "outcome"),
    [
        ("reset", {"status": "Scheduled"}, Outcome.ACCEPTED),
        ("unlock-connector", {"status": "Unlocked"}, Outcome.ACCEPTED),
        ("unlock-connector", {"status": "UnlockFailed"}, Outcome.REJECTED),
        (
            "change-configuration",
            {"setVariableResult": [{"attributeStatus": "RebootRequired"}]},
            Outcome.ACCEPTED,
        ),
        (
            "change-configuration",
            {"setVariableResult": [{"attributeStatus": "UnknownVariable"}]},
            Outcome.REJECTED,
        ),
        ("get-configuration", {"getVariableResult": []}, Outcome.ACCEPTED),
    ],
)
def test_what_a_2_0_1_answer_means(name: str, answer: dict[str, Any], outcome: Outcome) -> None:
    payload = {"key": "C/V", "value": "1"} if name == "change-configuration" else {}
    assert OCPP201.answer(name, payload, answer)[0] == outcome
