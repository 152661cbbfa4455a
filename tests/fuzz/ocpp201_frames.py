"""Hostile and valid frames for an OCPP 2.0.1 connection, each with the answer OCPP-J
2.0.1 names for it: ``ocpp_frames``' kinds drawn from the 2.0.1 schemas (payloads of
2.0.1 shape with wrong types, out-of-range numbers, missing and unknown fields…) and
its frame defects, their codes as 2.0.1 writes them — ``FormatViolation`` (1.6's
``FormationViolation``), ``OccurrenceConstraintViolation`` (1.6 misspells it),
``RpcFrameworkError`` for a frame that is no RPC message, ``MessageTypeNotSupported``
for an unknown message type id. A 1.6-only name never answers a 2.0.1 station.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Final

from hypothesis import strategies as st

from chargeledger.adapters.ocpp import framing, schemas
from tests.fuzz import ocpp_frames as frames
from tests.fuzz.ocpp_frames import RESULT, Case, call_text

OCPP201: Final = schemas.OCPP201
FORMAT: Final = framing.FORMAT_VIOLATION
RPC: Final = framing.RPC_FRAMEWORK_ERROR
TYPE: Final = framing.TYPE_CONSTRAINT_VIOLATION
PROPERTY: Final = framing.PROPERTY_CONSTRAINT_VIOLATION
OCCURRENCE: Final = framing.OCCURRENCE_CONSTRAINT_VIOLATION_201
PROTOCOL: Final = framing.PROTOCOL_ERROR

ONLY_16: Final = frozenset({framing.FORMATION_VIOLATION, framing.OCCURRENCE_CONSTRAINT_VIOLATION})
"""Names OCPP-J 2.0.1 does not have."""

_AT: Final = "2026-01-01T00:00:00Z"


def _in_201(codes: frozenset[str]) -> frozenset[str]:
    return frozenset(framing.code_in_201(code) for code in codes)


@st.composite
def valid_calls(draw: st.DrawFn) -> Case:
    case: Case = draw(frames.valid_calls(OCPP201))
    return case


@st.composite
def payload_defects(draw: st.DrawFn) -> Case:
    """A valid 2.0.1 payload with one defect; a payload's faults keep 1.6's meaning
    under 2.0.1's names."""
    case: Case = draw(frames.payload_defects(OCPP201))
    return replace(case, expect=_in_201(case.expect))


def _frame_codes(case: Case) -> frozenset[str]:
    expect: set[str] = set()
    for code in case.expect:
        if code == framing.FORMATION_VIOLATION:
            # No RPC message (its id unreadable, the array misshapen); a CALL whose
            # payload is not an object: the payload's format.
            shaped = case.what.startswith("CALL shaped")
            expect |= {RPC, FORMAT} if shaped else {RPC}
        elif code == PROTOCOL:  # frame defects' only ProtocolError: the type id
            expect.add(framing.MESSAGE_TYPE_NOT_SUPPORTED)
        elif code == framing.NOT_SUPPORTED:  # a 1.6 CSMS action: 2.0.1's too, or none
            action = json.loads(case.text("x"))[2]
            known = schemas.known_action(action, OCPP201)
            expect.add(framing.NOT_SUPPORTED if known else framing.NOT_IMPLEMENTED)
        else:
            expect.add(code)
    return frozenset(expect)


@st.composite
def frame_defects(draw: st.DrawFn) -> Case:
    """``ocpp_frames``' malformed frames, answered as OCPP-J 2.0.1 names them."""
    case: Case = draw(frames.frame_defects() | frames.surrogate_ids())
    return replace(case, expect=_frame_codes(case))


def _status(evse: str) -> str:
    return (
        f'[2,"\\u0000id\\u0000","StatusNotification",{{"timestamp":"{_AT}",'
        f'"connectorStatus":"Available","evseId":{evse},"connectorId":1}}]'
    )


def _event(**changed: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": "Updated",
        "timestamp": _AT,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "FUZZ-TX"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": _AT, "sampledValue": [{"value": 1.0}]}],
    }
    return {**event, **changed}


def _case(action: str, payload: Any, codes: set[str], what: str) -> Case:
    return Case(call_text(action, payload), frozenset(codes), what)


HOSTILE: Final = [
    # Issue 10's reproductions, in 2.0.1's shape.
    *(
        Case(_status(value), frozenset({code}), f"StatusNotification evseId {value}")
        for value, code in [
            ("1.0", TYPE),
            ("2e0", TYPE),
            ("1e308", TYPE),
            ("-1", PROPERTY),
            ("1000", PROPERTY),
            (str(2**63), PROPERTY),
        ]
    ),
    _case("TransactionEvent", _event(seqNo=2**63), {PROPERTY}, "seqNo 2^63"),
    _case("TransactionEvent", _event(timestamp="0000-01-01T00:00:00Z"), {PROPERTY}, "year 0000"),
    _case("DataTransfer", {"vendorId": "\udfff"}, {FORMAT}, "a lone surrogate in vendorId"),
    Case('[2,"\\ud800","Heartbeat",{}]', frozenset({RPC}), "id \\ud800", "\ud800"),
    *(
        _case(action, payload, {PROPERTY}, f"U+0000 {action}")
        for action, payload in [
            (
                "BootNotification",
                {"chargingStation": {"model": "m", "vendorName": "a\x00b"}, "reason": "PowerUp"},
            ),
            ("Authorize", {"idToken": {"idToken": "T\x00", "type": "ISO14443"}}),
            ("DataTransfer", {"vendorId": "v", "data": "\x00"}),
            ("SecurityEventNotification", {"type": "x", "timestamp": _AT, "techInfo": "\x00"}),
        ]
    ),
    # Where 2.0.1 names a fault otherwise than 1.6.
    _case("TransactionEvent", _event(meterValue=[]), {OCCURRENCE}, "no meter value"),
    _case("Heartbeat", {"currentTime": _AT}, {FORMAT}, "an unknown field"),
    Case("not json", frozenset({RPC}), "not JSON", framing.UNKNOWN_ID),
    Case('[7,"\\u0000id\\u0000","Heartbeat",{}]', frozenset({"MessageTypeNotSupported"}), "type 7"),
    # 2.0.1-shaped payloads with wrong types and values.
    _case("TransactionEvent", _event(seqNo="0"), {TYPE}, "seqNo as text"),
    _case("TransactionEvent", _event(evse={"id": "1"}), {TYPE}, "evse.id as text"),
    _case("TransactionEvent", _event(transactionInfo=[]), {TYPE}, "transactionInfo a list"),
    _case("TransactionEvent", _event(eventType="Begun"), {PROPERTY}, "eventType Begun"),
    _case(
        "TransactionEvent",
        _event(transactionInfo={"transactionId": "x" * 37}),
        {PROPERTY},
        "transactionId longer than 36",
    ),
    _case("TransactionEvent", _event(evse={"id": 256}), {PROPERTY}, "evse.id 256"),
    _case("Authorize", {"idToken": "T"}, {TYPE}, "idToken as text"),
    _case("Authorize", {}, {PROTOCOL}, "no idToken"),
    _case(
        "BootNotification",
        {"chargingStation": {"model": "m"}, "reason": 1},
        {PROTOCOL, TYPE},
        "no vendorName, a number for reason",
    ),
    # 1.6 on a 2.0.1 connection.
    _case("StartTransaction", {}, {framing.NOT_IMPLEMENTED}, "a 1.6 action"),
    _case(
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
        {PROTOCOL, FORMAT},
        "a 1.6 StatusNotification",
    ),
    _case("Heartbeat", {}, {RESULT}, "a Heartbeat"),
]
