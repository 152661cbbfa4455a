"""The sans-I/O framing core on frames alone: every fault and the code it gets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargeledger.adapters.ocpp import framing
from chargeledger.adapters.ocpp.framing import Call, CallErrorFrame, CallResult, FrameFault


def test_a_call_parses_into_its_parts() -> None:
    assert framing.parse('[2,"42","Heartbeat",{}]') == Call("42", "Heartbeat", {})


def test_a_call_result_and_a_call_error_parse() -> None:
    assert framing.parse('[3,"7",{"status":"Accepted"}]') == CallResult("7", {"status": "Accepted"})
    assert framing.parse('[4,"7","NotSupported","no",{"a":1}]') == CallErrorFrame(
        "7", "NotSupported", "no", {"a": 1}
    )


def test_a_call_error_without_details_is_taken_as_stations_send_it() -> None:
    assert framing.parse('[4,"7","GenericError","boom"]') == CallErrorFrame(
        "7", "GenericError", "boom"
    )


def test_bytes_of_utf8_json_are_taken_like_text() -> None:
    assert framing.parse(b'[2,"1","Heartbeat",{}]') == Call("1", "Heartbeat", {})


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[2,",
        b"\xff\xfe",
        '[2,"1","Heartbeat",{"v":NaN}]',
        "[" * 100_000,
    ],
)
def test_text_that_is_not_json_is_a_formation_violation_with_the_unknown_id(
    text: str | bytes,
) -> None:
    fault = framing.parse(text)
    assert isinstance(fault, FrameFault)
    assert (fault.code, fault.unique_id, fault.replyable) == ("FormationViolation", "-1", True)


@pytest.mark.parametrize(
    "message",
    [{"a": 1}, [2, "1"], [], "2", 2, None],
)
def test_json_that_is_not_a_frame_array_is_a_formation_violation(message: object) -> None:
    fault = framing.parse(json.dumps(message))
    assert isinstance(fault, FrameFault)
    assert fault.code == "FormationViolation"


@pytest.mark.parametrize(
    ("message", "expected_id"),
    [
        ([2, 17, "Heartbeat", {}], "-1"),
        ([2, "", "Heartbeat", {}], "-1"),
        ([2, "x" * 37, "Heartbeat", {}], "x" * 37),
        ([2, None, "Heartbeat", {}], "-1"),
    ],
)
def test_a_message_id_that_is_not_a_short_string_is_a_formation_violation(
    message: list[object], expected_id: str
) -> None:
    fault = framing.parse(json.dumps(message))
    assert isinstance(fault, FrameFault)
    assert fault.code == "FormationViolation"
    assert fault.unique_id == expected_id  # echoed when readable, so the station can match


def test_a_36_character_id_is_accepted() -> None:
    assert isinstance(framing.parse(json.dumps([2, "u" * 36, "Heartbeat", {}])), Call)


@pytest.mark.parametrize(
    "message",
    [
        [2, "1", "Heartbeat"],
        [2, "1", "Heartbeat", {}, {}],
        [2, "1", 5, {}],
        [2, "1", "", {}],
        [2, "1", "Heartbeat", []],
        [2, "1", "Heartbeat", "{}"],
        ["2", "1", "Heartbeat", {}],
        [2.0, "1", "Heartbeat", {}],
        [True, "1", "Heartbeat", {}],
    ],
)
def test_a_malformed_call_is_a_replyable_formation_violation_keeping_its_id(
    message: list[object],
) -> None:
    fault = framing.parse(json.dumps(message))
    assert isinstance(fault, FrameFault)
    assert (fault.code, fault.unique_id, fault.replyable) == ("FormationViolation", "1", True)


def test_an_unknown_message_type_is_a_protocol_error() -> None:
    fault = framing.parse('[5,"1","Heartbeat",{}]')
    assert isinstance(fault, FrameFault)
    assert (fault.code, fault.unique_id, fault.replyable) == ("ProtocolError", "1", True)


@pytest.mark.parametrize(
    "message",
    [
        [3, "1"],
        [3, "1", []],
        [3, "1", {}, {}],
        [4, "1", 5, "d", {}],
        [4, "1", "GenericError"],
        [3, 9, {}],
        [4, "x" * 40, "GenericError", "", {}],
    ],
)
def test_a_malformed_answer_is_never_answered(message: list[object]) -> None:
    fault = framing.parse(json.dumps(message))
    assert isinstance(fault, FrameFault)
    assert fault.code == "FormationViolation"
    assert fault.replyable is False


def test_a_fault_becomes_the_call_error_that_answers_it() -> None:
    fault = framing.parse('[2,"9","Heartbeat",[]]')
    assert isinstance(fault, FrameFault)
    error = fault.to_call_error()
    assert framing.encode(error) == (
        '[4,"9","FormationViolation","a CALL\'s payload must be an object",{}]'
    )


def test_the_16_spelling_of_the_occurrence_code_is_what_we_send() -> None:
    assert framing.OCCURRENCE_CONSTRAINT_VIOLATION == "OccurenceConstraintViolation"


def test_encode_is_compact_and_keeps_unicode() -> None:
    assert framing.encode(CallResult("1", {"info": "Ladesäule"})) == '[3,"1",{"info":"Ladesäule"}]'
    assert framing.encode(Call("1", "Reset", {"type": "Soft"})) == '[2,"1","Reset",{"type":"Soft"}]'


_ids = st.text(min_size=1, max_size=36)
_payloads = st.dictionaries(
    st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8), st.booleans()), max_size=4
)


@given(
    st.one_of(
        st.builds(Call, _ids, st.text(min_size=1, max_size=20), _payloads),
        st.builds(CallResult, _ids, _payloads),
        st.builds(
            CallErrorFrame, _ids, st.sampled_from(sorted(framing.ERROR_CODES)), st.text(), _payloads
        ),
    )
)
def test_every_frame_survives_encode_then_parse(frame: framing.Frame) -> None:
    assert framing.parse(framing.encode(frame)) == frame


@given(st.text(max_size=60) | st.binary(max_size=60))
def test_any_input_gives_a_frame_or_a_fault_never_an_exception(text: str | bytes) -> None:
    assert isinstance(framing.parse(text), Call | CallResult | CallErrorFrame | FrameFault)
