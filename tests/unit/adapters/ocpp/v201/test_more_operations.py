"""The operations added for OCPP 2.0.1 (issue 17): smart charging, the local list,
reports, several variables, the network profile, a reset per EVSE. Each payload as
the domain records it becomes a CALL that passes the 2.0.1 schema, and each answer
gets its outcome."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chargeledger.adapters.ocpp import schemas
from chargeledger.adapters.ocpp.spec import request_number
from chargeledger.adapters.ocpp.v16.operations import OCPP16
from chargeledger.adapters.ocpp.v201.operations import OCPP201_OPERATIONS as OCPP201
from chargeledger.domain.enums import MessageTrigger, Outcome
from tests.unit.adapters.ocpp.v16.test_operation_answers import PROFILE


def said(name: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    action, call = OCPP201.call(name, payload, "c-1")
    schemas.check(action, call, schemas.OCPP201)
    return action, call


def test_a_tx_profile_names_the_station_s_transaction_and_its_schedule_is_a_list() -> None:
    profile = {**PROFILE, "transaction_id": 9}
    payload = {"connector_id": 2, "cs_charging_profiles": profile, "station_transaction_id": "TX-9"}
    assert said("set-charging-profile", payload) == (
        "SetChargingProfile",
        {
            "evseId": 2,
            "chargingProfile": {
                "id": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Absolute",
                "validFrom": "2026-01-01T00:00:00Z",
                "transactionId": "TX-9",
                "chargingSchedule": [
                    {
                        "id": 1,
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.5}],
                    }
                ],
            },
        },
    )


def test_a_station_wide_limit_is_a_charging_station_max_profile_on_evse_0() -> None:
    profile = {**PROFILE, "charging_profile_purpose": "ChargePointMaxProfile"}
    _, call = said("set-charging-profile", {"connector_id": 0, "cs_charging_profiles": profile})
    assert call["evseId"] == 0
    assert call["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert "transactionId" not in call["chargingProfile"]


def test_a_remote_start_carries_its_tx_profile_without_a_transaction() -> None:
    _, call = said("remote-start", {"connector_id": 1, "id_tag": "T", "charging_profile": PROFILE})
    assert call["chargingProfile"]["id"] == 1
    assert "transactionId" not in call["chargingProfile"]


def test_the_other_smart_charging_calls() -> None:
    clear = {"id": None, "connector_id": 1, "charging_profile_purpose": "TxDefaultProfile"}
    assert said("clear-charging-profile", {**clear, "stack_level": 2})[1] == {
        "chargingProfileCriteria": {
            "evseId": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "stackLevel": 2,
        }
    }
    assert said("clear-charging-profile", {"id": 7})[1] == {"chargingProfileId": 7}
    assert said("get-composite-schedule", {"connector_id": 1, "duration": 60})[1] == {
        "duration": 60,
        "evseId": 1,
    }
    asked = {"connector_id": 0, "charging_profile_purpose": "ChargePointMaxProfile"}
    assert said("get-charging-profiles", {**asked, "charging_limit_source": ["CSO"]}) == (
        "GetChargingProfiles",
        {
            "requestId": request_number("c-1"),
            "evseId": 0,
            "chargingProfile": {
                "chargingProfilePurpose": "ChargingStationMaxProfile",
                "chargingLimitSource": ["CSO"],
            },
        },
    )


def test_a_local_list_entry_is_an_id_token_with_its_id_token_info() -> None:
    payload = {
        "list_version": 4,
        "update_type": "Differential",
        "local_authorization_list": [
            {
                "id_tag": "A",
                "id_tag_info": {
                    "status": "Blocked",
                    "expiry_date": "2027-01-01T00:00:00Z",
                    "parent_id_tag": "G",
                },
            },
            {"id_tag": "B", "id_tag_info": None},
        ],
    }
    assert said("send-local-list", payload)[1] == {
        "versionNumber": 4,
        "updateType": "Differential",
        "localAuthorizationList": [
            {
                "idToken": {"idToken": "A", "type": "ISO14443"},
                "idTokenInfo": {
                    "status": "Blocked",
                    "cacheExpiryDateTime": "2027-01-01T00:00:00Z",
                    "groupIdToken": {"idToken": "G", "type": "Central"},
                },
            },
            {"idToken": {"idToken": "B", "type": "ISO14443"}},
        ],
    }
    empty = {"list_version": 5, "update_type": "Full", "local_authorization_list": []}
    assert said("send-local-list", empty)[1] == {"versionNumber": 5, "updateType": "Full"}


def test_reports_variables_network_and_a_reset_of_one_evse() -> None:
    report = {"component_variable": ["EVSE", "OCPPCommCtrlr/HeartbeatInterval"]}
    assert said("get-report", {**report, "component_criteria": ["Problem"]})[1] == {
        "requestId": request_number("c-1"),
        "componentVariable": [
            {"component": {"name": "EVSE"}},
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        ],
        "componentCriteria": ["Problem"],
    }
    settings = [{"key": "A/B", "value": "1"}, {"key": "C/D", "value": "x"}]
    assert [
        d["attributeValue"]
        for d in said("set-variables", {"variables": settings})[1]["setVariableData"]
    ] == ["1", "x"]
    network = {
        "configuration_slot": 1,
        "connection_data": {
            "ocpp_version": "OCPP20",
            "ocpp_transport": "JSON",
            "ocpp_csms_url": "wss://csms.example/ocpp",
            "message_timeout": 30,
            "security_profile": 2,
            "ocpp_interface": "Wired0",
            "apn": None,
            "vpn": None,
        },
    }
    assert said("set-network-profile", network)[1]["connectionData"]["ocppCsmsUrl"] == (
        "wss://csms.example/ocpp"
    )
    assert said("reset", {"type": "Soft", "evse_id": 2})[1] == {"type": "OnIdle", "evseId": 2}


def test_a_1_6_station_cannot_reset_one_evse_nor_hear_2_0_1_s_own_operations() -> None:
    assert OCPP16.unspeakable("reset", {"type": "Soft", "evse_id": 1}) is not None
    assert OCPP16.unspeakable("reset", {"type": "Soft", "evse_id": None}) is None
    for name in ("get-report", "get-charging-profiles", "set-variables", "set-network-profile"):
        reason = OCPP16.unspeakable(name, {})
        assert reason is not None and "OCPP 1.6" in reason


def test_what_the_answers_mean() -> None:
    def outcome(name: str, answer: dict[str, Any]) -> Outcome:
        return OCPP201.answer(name, {}, answer)[0]

    assert outcome("get-charging-profiles", {"status": "NoProfiles"}) == Outcome.ACCEPTED
    assert outcome("get-report", {"status": "EmptyResultSet"}) == Outcome.ACCEPTED
    assert outcome("get-report", {"status": "NotSupported"}) == Outcome.REJECTED
    assert outcome("send-local-list", {"status": "VersionMismatch"}) == Outcome.REJECTED
    assert outcome("get-local-list-version", {"versionNumber": 0}) == Outcome.ACCEPTED
    assert outcome("set-network-profile", {"status": "Failed"}) == Outcome.REJECTED
    assert outcome("clear-charging-profile", {"status": "Unknown"}) == Outcome.REJECTED
    took = [{"attributeStatus": "Accepted"}, {"attributeStatus": "RebootRequired"}]
    assert outcome("set-variables", {"setVariableResult": took}) == Outcome.ACCEPTED
    partly = [{"attributeStatus": "Accepted"}, {"attributeStatus": "UnknownVariable"}]
    assert outcome("set-variables", {"setVariableResult": partly}) == Outcome.REJECTED


_periods = st.lists(
    st.fixed_dictionaries(
        {
            "start_period": st.integers(0, 86_400),
            "limit": st.one_of(st.integers(0, 10_000), st.floats(0, 1e6, allow_nan=False)),
            "number_phases": st.none() | st.integers(1, 3),
        }
    ),
    min_size=1,
    max_size=5,
)
_profiles = st.fixed_dictionaries(
    {
        "charging_profile_id": st.integers(1, 2**31 - 1),
        "stack_level": st.integers(0, 9),
        "charging_profile_purpose": st.sampled_from(
            ["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
        ),
        "charging_profile_kind": st.sampled_from(["Absolute", "Recurring", "Relative"]),
        "recurrency_kind": st.none() | st.sampled_from(["Daily", "Weekly"]),
        "transaction_id": st.none() | st.integers(1, 2**31 - 1),
        "valid_from": st.none() | st.just("2026-01-01T00:00:00Z"),
        "charging_schedule": st.fixed_dictionaries(
            {
                "duration": st.none() | st.integers(1, 86_400),
                "charging_rate_unit": st.sampled_from(["W", "A"]),
                "charging_schedule_period": _periods,
                "min_charging_rate": st.none() | st.floats(0, 100, allow_nan=False),
            }
        ),
    }
)


# A station's transaction id as a station can send it: the framing refuses U+0000 and
# lone surrogates (tests/unit/adapters/ocpp/test_schemas_nul.py), so none is stored.
_STATION_IDS = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1
)


@given(profile=_profiles, evse=st.integers(0, 8), station_id=st.none() | _STATION_IDS)
def test_any_profile_1_6_s_body_holds_is_sayable_in_2_0_1(
    profile: dict[str, Any], evse: int, station_id: str | None
) -> None:
    station_id = None if station_id is None else station_id[:36]
    payload = {"connector_id": evse, "cs_charging_profiles": profile}
    if station_id is not None:
        payload["station_transaction_id"] = station_id
    _, call = said("set-charging-profile", payload)
    sent = call["chargingProfile"]
    assert sent["id"] == profile["charging_profile_id"] == sent["chargingSchedule"][0]["id"]
    assert ("transactionId" in sent) == (profile["transaction_id"] is not None)


@given(st.sampled_from(list(MessageTrigger)))
def test_every_trigger_is_sayable_in_one_version_at_least_and_each_call_passes_its_schema(
    wanted: MessageTrigger,
) -> None:
    payload = {"requested_message": wanted, "connector_id": 1}
    sayable = []
    for table, protocol in ((OCPP16, schemas.OCPP16), (OCPP201, schemas.OCPP201)):
        if table.unspeakable("trigger-message", payload) is None:
            action, call = table.call("trigger-message", payload, "c-1")
            schemas.check(action, call, protocol)
            sayable.append(protocol)
    assert sayable


def test_a_trigger_of_the_other_version_s_name_is_translated_or_refused() -> None:
    def asked(table: Any, wanted: str) -> Any:
        return table.call("trigger-message", {"requested_message": wanted}, "c-1")[1]

    assert asked(OCPP16, "LogStatusNotification") == {
        "requestedMessage": "DiagnosticsStatusNotification"
    }
    assert asked(OCPP201, "DiagnosticsStatusNotification") == {
        "requestedMessage": "LogStatusNotification"
    }
    assert asked(OCPP201, "TransactionEvent") == {"requestedMessage": "TransactionEvent"}
    for only_2_0_1 in ("TransactionEvent", "SignV2GCertificate"):
        reason = OCPP16.unspeakable("trigger-message", {"requested_message": only_2_0_1})
        assert reason is not None and "cannot ask for" in reason
