"""How the six profiles' operations map onto OCPP 1.6: each CALL payload passes the
specification's request schema, each answer status gets its outcome and detail, and
only the operations whose repeat changes nothing are re-sent when in doubt."""

from __future__ import annotations

from typing import Any

import pytest

from chargeledger.adapters.ocpp import schemas
from chargeledger.adapters.ocpp.spec import camel
from chargeledger.adapters.ocpp.v16.operations import OCPP16
from chargeledger.domain import events as e
from chargeledger.domain.operations import OPERATIONS, name_of

SPECS = OCPP16.specs

PROFILE = {
    "charging_profile_id": 1,
    "transaction_id": None,
    "stack_level": 0,
    "charging_profile_purpose": "TxProfile",
    "charging_profile_kind": "Absolute",
    "recurrency_kind": None,
    "valid_from": "2026-01-01T00:00:00Z",
    "valid_to": None,
    "charging_schedule": {
        "duration": None,
        "start_schedule": None,
        "charging_rate_unit": "A",
        "charging_schedule_period": [{"start_period": 0, "limit": 16.5, "number_phases": None}],
        "min_charging_rate": None,
    },
}

PAYLOADS: dict[str, dict[str, Any]] = {
    "remote-start": {"connector_id": 1, "id_tag": "T", "charging_profile": PROFILE},
    "clear-cache": {},
    "get-configuration": {"key": None},
    "change-configuration": {"key": "HeartbeatInterval", "value": "60"},
    "data-transfer": {"vendor_id": "v", "message_id": "ping", "data": None},
    "update-firmware": {
        "location": "https://x/fw.bin",
        "retrieve_date": "2026-01-01T00:00:00Z",
        "retries": None,
        "retry_interval": 30,
    },
    "get-diagnostics": {
        "location": "ftp://x/",
        "retries": 2,
        "retry_interval": None,
        "start_time": "2026-01-01T00:00:00Z",
        "stop_time": None,
    },
    "get-local-list-version": {},
    "send-local-list": {
        "list_version": 3,
        "update_type": "Differential",
        "local_authorization_list": [
            {
                "id_tag": "A",
                "id_tag_info": {"status": "Accepted", "expiry_date": "2027-01-01T00:00:00Z"},
            },
            {"id_tag": "B", "id_tag_info": None},
        ],
    },
    "reserve-now": {
        "reservation_id": 5,
        "connector_id": 0,
        "expiry_date": "2026-01-01T01:00:00Z",
        "id_tag": "T",
        "parent_id_tag": None,
    },
    "cancel-reservation": {"reservation_id": 5},
    "set-charging-profile": {
        "connector_id": 1,
        "cs_charging_profiles": {**PROFILE, "transaction_id": 9},
    },
    "clear-charging-profile": {
        "id": None,
        "connector_id": 1,
        "charging_profile_purpose": "TxProfile",
        "stack_level": 0,
    },
    "get-composite-schedule": {"connector_id": 1, "duration": 600, "charging_rate_unit": None},
}


def test_every_request_event_opens_an_operation_with_one_spec_in_the_api_order() -> None:
    assert {operation.event for operation in OPERATIONS.values()} == set(e.REQUEST_EVENTS)
    only_201 = (
        "get-base-report",
        "get-transaction-status",
        "get-charging-profiles",
        "get-report",
        "set-variables",
        "set-network-profile",
    )
    spoken_in_1_6 = [op for op in OPERATIONS.values() if op.name not in only_201]
    assert [spec.operation for spec in OCPP16.specs.values()] == spoken_in_1_6
    assert (
        name_of(e.ResetRequested(command_id="c", requested_at="", expires_at="", reset_type="Soft"))
        == "reset"
    )


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_each_call_payload_passes_the_ocpp_1_6_request_schema(name: str) -> None:
    spec = SPECS[name]
    schemas.check(spec.action, spec.to_call(PAYLOADS[name]))


def test_unset_fields_are_left_out_and_keys_turn_camel_case() -> None:
    assert SPECS["send-local-list"].to_call(PAYLOADS["send-local-list"]) == {
        "listVersion": 3,
        "updateType": "Differential",
        "localAuthorizationList": [
            {
                "idTag": "A",
                "idTagInfo": {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00Z"},
            },
            {"idTag": "B"},
        ],
    }
    assert camel({"get_configuration": [{"a_b": None, "c_d": 1}]}) == {
        "getConfiguration": [{"cD": 1}]
    }
    assert SPECS["remote-start"].to_call({"connector_id": 1, "id_tag": "T"}) == {
        "connectorId": 1,
        "idTag": "T",
    }


@pytest.mark.parametrize(
    ("name", "answer", "outcome", "detail"),
    [
        ("change-configuration", {"status": "Accepted"}, "accepted", ""),
        (
            "change-configuration",
            {"status": "RebootRequired"},
            "accepted",
            "stored; HeartbeatInterval takes effect after the station resets",
        ),
        (
            "change-configuration",
            {"status": "Rejected"},
            "rejected",
            "the station refused HeartbeatInterval = '60'",
        ),
        (
            "change-configuration",
            {"status": "NotSupported"},
            "rejected",
            "the station does not support configuration key HeartbeatInterval",
        ),
        ("get-configuration", {"configurationKey": []}, "accepted", ""),
        (
            "update-firmware",
            {},
            "accepted",
            "the station fetches the firmware from 2026-01-01T00:00:00Z on; "
            "its FirmwareStatusNotifications show in the station view",
        ),
        (
            "get-diagnostics",
            {"fileName": "d.log"},
            "accepted",
            "the station uploads its diagnostics to ftp://x/",
        ),
        ("get-diagnostics", {}, "accepted", "the station has no diagnostics to upload"),
        ("get-local-list-version", {"listVersion": 0}, "accepted", ""),
        (
            "get-local-list-version",
            {"listVersion": -1},
            "rejected",
            "the station keeps no local authorization list",
        ),
        (
            "send-local-list",
            {"status": "VersionMismatch"},
            "rejected",
            "the station's list version does not fit 3; send a Full list",
        ),
        (
            "send-local-list",
            {"status": "Failed"},
            "rejected",
            "the station could not apply the list; send a Full list",
        ),
        (
            "reserve-now",
            {"status": "Occupied"},
            "rejected",
            "the station answered Occupied: reservation 5 ended",
        ),
        (
            "cancel-reservation",
            {"status": "Rejected"},
            "rejected",
            "the station holds no reservation 5",
        ),
        (
            "clear-charging-profile",
            {"status": "Unknown"},
            "rejected",
            "the station holds no charging profile that matches",
        ),
        (
            "data-transfer",
            {"status": "UnknownMessageId"},
            "rejected",
            "the station knows no message ping of vendor v",
        ),
        ("get-composite-schedule", {"status": "Accepted", "connectorId": 1}, "accepted", ""),
        ("clear-cache", {"status": "Rejected"}, "rejected", ""),
    ],
)
def test_each_answer_gets_its_outcome_and_says_what_it_means(
    name: str, answer: dict[str, Any], outcome: str, detail: str
) -> None:
    spec = SPECS[name]
    assert (spec.outcome_of(answer), spec.detail_of(PAYLOADS[name], answer)) == (outcome, detail)
    assert OCPP16.answer(name, PAYLOADS[name], answer) == (outcome, detail)


def test_only_questions_are_sent_again_when_in_doubt() -> None:
    assert {
        "trigger-message",
        "get-configuration",
        "get-local-list-version",
        "get-composite-schedule",
        "get-base-report",  # OCPP 2.0.1's
        "get-transaction-status",  # OCPP 2.0.1's, as the two below
        "get-charging-profiles",
        "get-report",
    } == {operation.name for operation in OPERATIONS.values() if operation.repeat_is_harmless}


def test_each_command_and_event_is_named_after_its_operation() -> None:
    def words(name: str) -> str:
        return "".join(word.title() for word in name.split("-"))

    for name, operation in OPERATIONS.items():
        assert operation.command.__name__ == f"Request{words(name)}"
        # AvailabilityChangeRequested keeps its name: events in the log are read by it.
        legacy = {"change-availability": "AvailabilityChangeRequested"}
        assert operation.event.__name__ == legacy.get(name, f"{words(name)}Requested")
