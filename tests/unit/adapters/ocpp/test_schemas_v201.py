"""The ``ocpp`` package's OCPP 2.0.1 schemas, by the same checks as 1.6's."""

from __future__ import annotations

import pytest

from chargeledger.adapters.ocpp import framing, schemas

V201 = schemas.OCPP201

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}}


def test_a_2_0_1_boot_passes_its_2_0_1_schema_and_breaks_the_1_6_one() -> None:
    schemas.check("BootNotification", BOOT, V201)
    with pytest.raises(schemas.PayloadError):
        schemas.check("BootNotification", BOOT)


def test_an_answer_schema_is_named_as_in_1_6() -> None:
    schemas.check("HeartbeatResponse", {"currentTime": "2026-01-01T00:00:00Z"}, V201)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"evseId": 1.0}, framing.TYPE_CONSTRAINT_VIOLATION),
        ({"evseId": 1000}, framing.PROPERTY_CONSTRAINT_VIOLATION),
        ({"connectorStatus": "Charging"}, framing.PROPERTY_CONSTRAINT_VIOLATION),
    ],
)
def test_numbers_and_enumerations_behind_2_0_1_references_are_checked(
    payload: dict[str, object], code: str
) -> None:
    status = {
        "timestamp": "2026-01-01T00:00:00Z",
        "connectorStatus": "Available",
        "evseId": 1,
        "connectorId": 1,
        **payload,
    }
    with pytest.raises(schemas.PayloadError) as raised:
        schemas.check("StatusNotification", status, V201)
    assert raised.value.code == code


def test_an_integer_inside_a_referenced_type_is_bounded() -> None:
    event = {
        "eventType": "Started",
        "timestamp": "2026-01-01T00:00:00Z",
        "triggerReason": "Authorized",
        "seqNo": 2**40,
        "transactionInfo": {"transactionId": "T-1"},
    }
    with pytest.raises(schemas.PayloadError) as raised:
        schemas.check("TransactionEvent", event, V201)
    assert raised.value.code == framing.PROPERTY_CONSTRAINT_VIOLATION


def test_each_version_knows_its_own_actions() -> None:
    assert schemas.known_action("RequestStartTransaction", V201)
    assert not schemas.known_action("RequestStartTransaction")
    assert schemas.known_action("RemoteStartTransaction")
    assert not schemas.known_action("RemoteStartTransaction", V201)
    assert all(schemas.known_action(action, V201) for action in schemas.STATION_ACTIONS_201)
