"""OCPP-J framing without I/O: text in, frames out; frames in, text out.

Each fault maps to the CALLERROR code the OCPP-J 1.6 specification names
(section 4.2.3). Note that 1.6 spells ``OccurenceConstraintViolation`` with one
"r"; we send it as 1.6 spells it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CALL = 2
CALLRESULT = 3
CALLERROR = 4

UNKNOWN_ID = "-1"
MAX_UNIQUE_ID_LENGTH = 36


@dataclass(frozen=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallError:
    unique_id: str
    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FrameFault:
    """A frame we cannot take; answer it with ``to_call_error()`` and keep the connection."""

    unique_id: str
    code: str
    description: str
    replyable: bool = True

    def to_call_error(self) -> CallError:
        return CallError(self.unique_id, self.code, self.description)


Frame = Call | CallResult | CallError


def parse(text: str | bytes) -> Frame | FrameFault:
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return FrameFault(UNKNOWN_ID, "FormationViolation", f"not JSON: {exc}")
    if not isinstance(message, list) or len(message) < 3:
        return FrameFault(UNKNOWN_ID, "FormationViolation", "a frame is a JSON array of 3-5 items")
    type_id, unique_id = message[0], message[1]
    if not isinstance(unique_id, str) or not unique_id or len(unique_id) > MAX_UNIQUE_ID_LENGTH:
        return FrameFault(
            UNKNOWN_ID, "FormationViolation", "the message id must be a string of 1-36 chars"
        )
    if type_id == CALL:
        if len(message) != 4 or not isinstance(message[2], str):
            return FrameFault(unique_id, "FormationViolation", "a CALL is [2, id, action, {}]")
        if not isinstance(message[3], dict):
            return FrameFault(unique_id, "FormationViolation", "a CALL payload is a JSON object")
        return Call(unique_id, message[2], message[3])
    if type_id == CALLRESULT:
        if len(message) != 3 or not isinstance(message[2], dict):
            return FrameFault(
                unique_id, "FormationViolation", "a CALLRESULT is [3, id, {}]", replyable=False
            )
        return CallResult(unique_id, message[2])
    if type_id == CALLERROR:
        if len(message) not in (4, 5) or not isinstance(message[2], str):
            return FrameFault(
                unique_id,
                "FormationViolation",
                "a CALLERROR is [4, id, code, description, {}]",
                replyable=False,
            )
        description = message[3] if isinstance(message[3], str) else str(message[3])
        details = message[4] if len(message) == 5 and isinstance(message[4], dict) else {}
        return CallError(unique_id, message[2], description, details)
    return FrameFault(unique_id, "ProtocolError", f"unknown message type id {type_id!r}")


def encode(frame: Frame) -> str:
    if isinstance(frame, Call):
        body: list[Any] = [CALL, frame.unique_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        body = [CALLRESULT, frame.unique_id, frame.payload]
    else:
        body = [CALLERROR, frame.unique_id, frame.code, frame.description, frame.details]
    return json.dumps(body, separators=(",", ":"))
