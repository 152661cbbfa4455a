"""Payload faults named by the CALLERROR code OCPP-J 1.6 gives them."""

from __future__ import annotations

from typing import Any

import pytest

from chargeledger.adapters.ocpp import schemas

BOOT = {"chargePointVendor": "v", "chargePointModel": "m"}
METER = {
    "connectorId": 1,
    "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": []}],
}


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        (
            "BootNotification",
            {"chargePointVendor": 1, "chargePointModel": "m"},
            "TypeConstraintViolation",
        ),
        (
            "StatusNotification",
            {"connectorId": "1", "errorCode": "NoError", "status": "Available"},
            "TypeConstraintViolation",
        ),
        (
            "BootNotification",
            {"chargePointVendor": "v" * 21, "chargePointModel": "m"},
            "PropertyConstraintViolation",
        ),
        (
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
            "PropertyConstraintViolation",
        ),
        (
            "StatusNotification",
            {
                "connectorId": 1,
                "errorCode": "NoError",
                "status": "Available",
                "timestamp": "yesterday",
            },
            "PropertyConstraintViolation",
        ),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, "OccurenceConstraintViolation"),
        ("BootNotification", {"chargePointVendor": "v"}, "ProtocolError"),
        ("BootNotification", {**BOOT, "colour": "red"}, "FormationViolation"),
        ("FlyToTheMoon", {}, "NotImplemented"),
    ],
)
def test_each_fault_gets_its_code(action: str, payload: dict[str, Any], code: str) -> None:
    with pytest.raises(schemas.PayloadError) as raised:
        schemas.check(action, payload)
    assert raised.value.code == code
    assert raised.value.description.startswith(action)


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00.123456+02:00",
        "2026-01-01T00:00:00",
        "2026-01-01 00:00:00Z",
    ],
)
def test_timestamps_real_stations_send_are_accepted(timestamp: str) -> None:
    schemas.check(
        "StatusNotification",
        {"connectorId": 0, "errorCode": "NoError", "status": "Available", "timestamp": timestamp},
    )


def test_a_valid_payload_passes() -> None:
    schemas.check("BootNotification", BOOT)
    schemas.check("HeartbeatResponse", {"currentTime": "2026-01-01T00:00:00Z"})


def test_validators_are_compiled_once_and_kept() -> None:
    assert schemas.validator("Heartbeat") is schemas.validator("Heartbeat")
    assert schemas.validator("NoSuchThing") is None


def test_station_actions_are_known_and_responses_are_not_actions() -> None:
    assert all(schemas.known_action(action) for action in schemas.STATION_ACTIONS)
    assert schemas.known_action("RemoteStartTransaction")
    assert not schemas.known_action("HeartbeatResponse")
