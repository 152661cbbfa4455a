"""The domain keeps its own copy of OCPP 1.6's closed sets (it does not import the
``ocpp`` package); each copy spells exactly what the protocol does."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import pytest
from ocpp.v16 import enums as ocpp
from ocpp.v201 import enums as ocpp201

from chargeledger.domain import enums
from chargeledger.domain.errors import InvalidCommandError

SAME_AS_OCPP: list[tuple[type[StrEnum], type[StrEnum]]] = [
    (enums.RegistrationStatus, ocpp.RegistrationStatus),
    (enums.AuthorizationStatus, ocpp.AuthorizationStatus),
    (enums.ResetType, ocpp.ResetType),
    (enums.AvailabilityType, ocpp.AvailabilityType),
    (enums.UpdateType, ocpp.UpdateType),
    (enums.ChargingProfilePurpose, ocpp.ChargingProfilePurposeType),
    (enums.ChargingRateUnit, ocpp.ChargingRateUnitType),
    (enums.ChargingProfileKind, ocpp.ChargingProfileKindType),
    (enums.RecurrencyKind, ocpp.RecurrencyKind),
    (enums.TransactionEventType, ocpp201.TransactionEventEnumType),
]


def test_a_stop_reason_is_one_that_ocpp_1_6_or_2_0_1_names() -> None:
    both = {m.value for m in ocpp.Reason} | {m.value for m in ocpp201.ReasonEnumType}
    assert {member.value for member in enums.StopReason} == both


def test_a_connector_status_is_one_that_ocpp_1_6_or_2_0_1_reports() -> None:
    both = {m.value for m in ocpp.ChargePointStatus} | {
        m.value for m in ocpp201.ConnectorStatusEnumType
    }
    assert {member.value for member in enums.ConnectorStatus} == both


@pytest.mark.parametrize(("ours", "theirs"), SAME_AS_OCPP, ids=lambda kind: kind.__name__)
def test_a_domain_copy_of_an_ocpp_set_spells_what_the_protocol_does(
    ours: type[StrEnum], theirs: type[StrEnum]
) -> None:
    assert {member.value for member in ours} == {member.value for member in theirs}


def test_a_trigger_message_asks_for_what_ocpp_lets_it_ask_for() -> None:
    # 1.6's TriggerMessage schema has six; 2.0.1's enumeration has its own eleven.
    schema = json.loads(
        (Path(ocpp.__file__).parent / "schemas" / "TriggerMessage.json").read_text()
    )
    v16 = set(schema["properties"]["requestedMessage"]["enum"])
    v201 = {m.value for m in ocpp201.MessageTriggerEnumType}
    assert len(v16) == 6
    assert {m.value for m in enums.MessageTrigger} == v16 | v201


def test_a_spelling_outside_the_set_is_refused_with_the_set_named() -> None:
    assert enums.one_of("reset type", enums.ResetType, "Hard") is enums.ResetType.HARD
    with pytest.raises(InvalidCommandError, match="reset type 'Warm' is not one of Soft, Hard"):
        enums.one_of("reset type", enums.ResetType, "Warm")
