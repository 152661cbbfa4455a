"""The CALLERROR codes a fault gets on an OCPP 2.0.1 connection: OCPP-J 2.0.1's names,
not 1.6's (FormatViolation, OccurrenceConstraintViolation spelled right,
RpcFrameworkError for a frame that is no RPC message, MessageTypeNotSupported)."""

from __future__ import annotations

import pytest

from chargeledger.adapters.ocpp import framing
from chargeledger.adapters.ocpp.framing import FrameFault

OCPP16_ONLY = {framing.FORMATION_VIOLATION, framing.OCCURRENCE_CONSTRAINT_VIOLATION}


@pytest.mark.parametrize(
    ("text", "in_16", "in_201"),
    [
        ("not json", "FormationViolation", "RpcFrameworkError"),
        ('{"a":1}', "FormationViolation", "RpcFrameworkError"),
        ("[2]", "FormationViolation", "RpcFrameworkError"),
        ('[2,5,"Heartbeat",{}]', "FormationViolation", "RpcFrameworkError"),
        ('[2,"' + "x" * 37 + '","Heartbeat",{}]', "FormationViolation", "RpcFrameworkError"),
        ('["2","1","Heartbeat",{}]', "FormationViolation", "RpcFrameworkError"),
        ('[2,"1","Heartbeat"]', "FormationViolation", "RpcFrameworkError"),
        ('[2,"1",5,{}]', "FormationViolation", "RpcFrameworkError"),
        ('[2,"\\ud800","Heartbeat",{}]', "FormationViolation", "RpcFrameworkError"),
        ('[2,"1","Heartbeat",[]]', "FormationViolation", "FormatViolation"),
        ('[2,"1","DataTransfer",{"vendorId":"\\ud800"}]', "FormationViolation", "FormatViolation"),
        ('[7,"1","Heartbeat",{}]', "ProtocolError", "MessageTypeNotSupported"),
    ],
)
def test_a_frame_fault_is_named_as_each_version_names_it(
    text: str, in_16: str, in_201: str
) -> None:
    fault = framing.parse(text)
    assert isinstance(fault, FrameFault)
    assert fault.to_call_error().code == in_16
    assert fault.to_call_error(ocpp201=True).code == in_201
    assert fault.to_call_error(ocpp201=True).unique_id == fault.unique_id


@pytest.mark.parametrize(
    ("code", "in_201"),
    [
        ("FormationViolation", "FormatViolation"),
        ("OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
        ("TypeConstraintViolation", "TypeConstraintViolation"),
        ("PropertyConstraintViolation", "PropertyConstraintViolation"),
        ("ProtocolError", "ProtocolError"),
        ("NotImplemented", "NotImplemented"),
        ("NotSupported", "NotSupported"),
        ("InternalError", "InternalError"),
    ],
)
def test_a_payload_fault_keeps_its_meaning_under_its_2_0_1_name(code: str, in_201: str) -> None:
    assert framing.code_in_201(code) == in_201


def test_no_1_6_only_name_is_left_in_2_0_1() -> None:
    codes_16 = {
        framing.FORMATION_VIOLATION,
        framing.PROTOCOL_ERROR,
        framing.TYPE_CONSTRAINT_VIOLATION,
        framing.PROPERTY_CONSTRAINT_VIOLATION,
        framing.OCCURRENCE_CONSTRAINT_VIOLATION,
        framing.NOT_IMPLEMENTED,
        framing.NOT_SUPPORTED,
        framing.INTERNAL_ERROR,
        framing.SECURITY_ERROR,
        framing.GENERIC_ERROR,
    }
    assert not {framing.code_in_201(code) for code in codes_16} & OCPP16_ONLY
