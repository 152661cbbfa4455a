"""Lone surrogates (issue 10, item 2): valid JSON, but no text. Refused at the framing
layer with a FormationViolation that echoes the id (escaped, so the station can match
it), even when the id itself is the bad string."""

from __future__ import annotations

import json

import pytest

from chargeledger.adapters.ocpp import framing
from chargeledger.adapters.ocpp.framing import Call, FrameFault


@pytest.mark.parametrize(
    "text",
    [
        r'[2,"1","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
        r'"status":"Available","info":"\ud800"}]',
        r'[2,"1","DataTransfer",{"vendorId":"v","data":"x\uDFFFy"}]',
        r'[2,"1","DataTransfer",{"vendorId":"v","\udc00":"key"}]',
        r'[2,"1","DataTransfer",{"vendorId":"v","data":"\ude00\ud83d"}]',  # reversed pair
    ],
)
def test_a_lone_surrogate_anywhere_is_a_formation_violation(text: str) -> None:
    fault = framing.parse(text)
    assert isinstance(fault, FrameFault)
    assert (fault.unique_id, fault.code, fault.replyable) == ("1", "FormationViolation", True)


def test_a_lone_surrogate_in_the_id_is_answered_with_that_id_escaped() -> None:
    fault = framing.parse(r'[2,"\ud800","Heartbeat",{}]')
    assert isinstance(fault, FrameFault) and fault.replyable
    wire = framing.to_wire(framing.encode(fault.to_call_error()))
    wire.decode("utf-8")  # valid UTF-8 on the wire
    answer = json.loads(wire)
    assert answer[:3] == [4, "\ud800", "FormationViolation"]  # the id the station sent


def test_an_answer_with_a_lone_surrogate_is_dropped_not_answered() -> None:
    fault = framing.parse(r'[3,"1",{"status":"\ud800"}]')
    assert isinstance(fault, FrameFault) and not fault.replyable


@pytest.mark.parametrize(
    ("text", "data"),
    [
        (r'[2,"1","DataTransfer",{"vendorId":"v","data":"\ud83d\ude00"}]', "\U0001f600"),
        (r'[2,"1","DataTransfer",{"vendorId":"v","data":"\\ud800"}]', "\\ud800"),
        ('[2,"1","DataTransfer",{"vendorId":"v","data":"\U0001f600"}]', "\U0001f600"),
    ],
)
def test_real_text_passes(text: str, data: str) -> None:
    frame = framing.parse(text)
    assert isinstance(frame, Call) and frame.payload["data"] == data


def test_an_escaped_pair_beside_a_number_out_of_range_is_a_call_not_an_exception() -> None:
    # The fuzzer's frame: the look for a lone surrogate re-encoded the message and
    # raised on 1e400 (read as infinity), which escaped data_received and closed the
    # connection; the number's own check answers it (PropertyConstraintViolation).
    text = r'[2,"1","DataTransfer",{"vendorId":"\ud83d\ude00","data":"x","n":1e400}]'
    frame = framing.parse(text)
    assert isinstance(frame, Call) and frame.payload["vendorId"] == "\U0001f600"
    fault = framing.parse(r'[2,"1","DataTransfer",{"vendorId":"\ud800","n":-1e400}]')
    assert isinstance(fault, FrameFault) and fault.code == "FormationViolation"
