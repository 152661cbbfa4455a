"""OCPP-J framing without I/O: text in, frames or faults out; frames in, text out.

Each fault maps to the CALLERROR code the OCPP-J 1.6 specification names
(section 4.2.3):

- not JSON, not an array of the right shape, a message id that is not a string
  of 1-36 characters, a payload that is not an object: ``FormationViolation``;
- a message type id other than 2, 3 or 4: ``ProtocolError``;
- payload faults are named by ``schemas`` (``TypeConstraintViolation``,
  ``PropertyConstraintViolation``, ``OccurenceConstraintViolation``,
  ``ProtocolError`` for a missing required field, ``FormationViolation`` for an
  unknown field), and routing by the gateway (``NotImplemented``,
  ``NotSupported``, ``InternalError``).

OCPP-J 1.6 spells the occurrence code ``OccurenceConstraintViolation`` (one
"r"); OCPP 2.0 corrected it. A 1.6 station compares the code as a string, so we
send the 1.6 spelling on 1.6 connections (``OCCURRENCE_CONSTRAINT_VIOLATION``).

OCPP-J 2.0.1 names its codes otherwise (its table of valid error codes), and a
2.0.1 station compares them as strings too: on a 2.0.1 connection a fault goes out
as ``FrameFault.to_call_error(ocpp201=True)`` or ``code_in_201`` names it —
``FormatViolation`` for 1.6's ``FormationViolation``, ``OccurrenceConstraintViolation``
spelled right, ``RpcFrameworkError`` for a frame that is no valid RPC message (its
message id unreadable, the array of the wrong shape) and ``MessageTypeNotSupported``
for a message type id other than 2, 3 or 4.

A fault in a CALLRESULT or CALLERROR is never answered (a response must not get
a response): it is logged and dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

CALL: Final = 2
CALLRESULT: Final = 3
CALLERROR: Final = 4

UNKNOWN_ID: Final = "-1"
"""The message id of a CALLERROR answering a frame whose own id cannot be read."""

MAX_UNIQUE_ID_LENGTH: Final = 36

FORMATION_VIOLATION: Final = "FormationViolation"
PROTOCOL_ERROR: Final = "ProtocolError"
TYPE_CONSTRAINT_VIOLATION: Final = "TypeConstraintViolation"
PROPERTY_CONSTRAINT_VIOLATION: Final = "PropertyConstraintViolation"
OCCURRENCE_CONSTRAINT_VIOLATION: Final = "OccurenceConstraintViolation"  # 1.6 spelling
NOT_IMPLEMENTED: Final = "NotImplemented"
NOT_SUPPORTED: Final = "NotSupported"
INTERNAL_ERROR: Final = "InternalError"
SECURITY_ERROR: Final = "SecurityError"
GENERIC_ERROR: Final = "GenericError"

FORMAT_VIOLATION: Final = "FormatViolation"  # 2.0.1's name for FormationViolation
OCCURRENCE_CONSTRAINT_VIOLATION_201: Final = "OccurrenceConstraintViolation"
RPC_FRAMEWORK_ERROR: Final = "RpcFrameworkError"  # 2.0.1 only
MESSAGE_TYPE_NOT_SUPPORTED: Final = "MessageTypeNotSupported"  # 2.0.1 only

_SPELLED_IN_201: Final = {
    FORMATION_VIOLATION: FORMAT_VIOLATION,
    OCCURRENCE_CONSTRAINT_VIOLATION: OCCURRENCE_CONSTRAINT_VIOLATION_201,
}


def code_in_201(code: str) -> str:
    """A code as OCPP-J 2.0.1 writes it (the others are spelled alike)."""
    return _SPELLED_IN_201.get(code, code)


ERROR_CODES: Final = frozenset(
    {
        FORMATION_VIOLATION,
        PROTOCOL_ERROR,
        TYPE_CONSTRAINT_VIOLATION,
        PROPERTY_CONSTRAINT_VIOLATION,
        OCCURRENCE_CONSTRAINT_VIOLATION,
        OCCURRENCE_CONSTRAINT_VIOLATION_201,  # also what some 1.6 stations send
        FORMAT_VIOLATION,
        RPC_FRAMEWORK_ERROR,
        MESSAGE_TYPE_NOT_SUPPORTED,
        NOT_IMPLEMENTED,
        NOT_SUPPORTED,
        INTERNAL_ERROR,
        SECURITY_ERROR,
        GENERIC_ERROR,
    }
)


# Frames are made for every message: plain slotted classes, which construct
# several times faster than frozen ones.
@dataclass(slots=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallErrorFrame:
    """A CALLERROR on the wire (message type 4), either way; the exception our caller
    gets for one a station sent is ``StationCallError`` (application ports)."""

    unique_id: str
    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrameFault:
    """A frame we cannot take. If ``replyable``, answer it with ``to_call_error()``;
    either way the connection stays open."""

    unique_id: str
    code: str
    description: str
    replyable: bool = True
    code_201: str | None = None
    """OCPP-J 2.0.1's code when it is not just 1.6's respelled (``code_in_201``)."""

    def to_call_error(self, ocpp201: bool = False) -> CallErrorFrame:
        code = self.code
        if ocpp201:
            code = self.code_201 or code_in_201(code)
        return CallErrorFrame(self.unique_id, code, self.description)


Frame = Call | CallResult | CallErrorFrame

_RPC: Final = RPC_FRAMEWORK_ERROR


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decode = json.JSONDecoder(parse_constant=_refuse_constant).decode
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def parse(text: str | bytes) -> Frame | FrameFault:
    """One WebSocket message to a frame, or the fault that names what is wrong with it."""
    try:
        if not isinstance(text, str):
            # The gateway hands over text (it closes on invalid UTF-8 with 1007 and on
            # binary frames with 1003); bytes are read as strict UTF-8 all the same.
            text = text.decode("utf-8")
        message = _decode(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return FrameFault(
            UNKNOWN_ID, FORMATION_VIOLATION, f"not JSON: {_first_line(exc)}", code_201=_RPC
        )
    answer = isinstance(message, list) and bool(message) and _is_answer_type(message[0])
    if _SURROGATE_ESCAPE.search(text) is not None and _has_lone_surrogate(message):
        # "\ud800" is valid JSON but no character: nothing could store, log or send it
        # on as UTF-8. Refused here, so nothing of the frame goes further.
        unique_id = message[1] if isinstance(message, list) and len(message) > 1 else None
        readable = isinstance(unique_id, str) and unique_id and not _has_lone_surrogate(unique_id)
        return FrameFault(
            unique_id if isinstance(unique_id, str) and unique_id else UNKNOWN_ID,
            FORMATION_VIOLATION,
            "a string holds a lone surrogate (U+D800-U+DFFF), which is not text",
            replyable=not answer,
            code_201=None if readable else _RPC,  # in the payload: FormatViolation
        )
    if not isinstance(message, list) or len(message) < 3:
        unique_id = message[1] if answer and len(message) > 1 else UNKNOWN_ID
        return FrameFault(
            unique_id if isinstance(unique_id, str) else UNKNOWN_ID,
            FORMATION_VIOLATION,
            "a frame is a JSON array [type, id, ...] of 3-5 items",
            replyable=not answer,
            code_201=_RPC,
        )
    type_id, unique_id = message[0], message[1]
    if not isinstance(unique_id, str) or not 0 < len(unique_id) <= MAX_UNIQUE_ID_LENGTH:
        # Echo a string id even when too long, so that the station can match our answer.
        echo = unique_id if isinstance(unique_id, str) and unique_id else UNKNOWN_ID
        return FrameFault(
            echo,
            FORMATION_VIOLATION,
            f"the message id must be a string of 1-{MAX_UNIQUE_ID_LENGTH} characters",
            replyable=not answer,
            code_201=_RPC,
        )
    if type(type_id) is not int:
        return FrameFault(
            unique_id, FORMATION_VIOLATION, "the message type id must be 2, 3 or 4", code_201=_RPC
        )
    if type_id == CALL:
        return _call(unique_id, message)
    if type_id == CALLRESULT:
        return _call_result(unique_id, message)
    if type_id == CALLERROR:
        return _call_error(unique_id, message)
    return FrameFault(
        unique_id,
        PROTOCOL_ERROR,
        f"unknown message type id {type_id}",
        code_201=MESSAGE_TYPE_NOT_SUPPORTED,
    )


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
"""Cheap first look: a lone surrogate can only come from a JSON escape (strict UTF-8
decoding refuses an encoded one), and most frames hold no such escape."""


_encode_for_a_look = json.JSONEncoder(ensure_ascii=False).encode
"""Encodes what ``_encode`` refuses too (1e400 reads as infinity): a frame that also
holds a number out of range gets its own fault later, not an exception here."""


def _has_lone_surrogate(message: Any) -> bool:
    try:
        _encode_for_a_look(message).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def to_wire(text: str) -> bytes:
    """Our text as UTF-8. A lone surrogate (only ever inside a JSON string, echoed
    from a refused frame's id) goes out as its JSON escape, ``\\ud800``, which the
    station reads back as the id it sent."""
    return text.encode("utf-8", "backslashreplace")


def _is_answer_type(type_id: object) -> bool:
    return type(type_id) is int and type_id in (CALLRESULT, CALLERROR)


def _call(unique_id: str, message: list[Any]) -> Call | FrameFault:
    if len(message) != 4:
        return FrameFault(
            unique_id, FORMATION_VIOLATION, "a CALL is [2, id, action, {payload}]", code_201=_RPC
        )
    action, payload = message[2], message[3]
    if not isinstance(action, str) or not action:
        return FrameFault(
            unique_id, FORMATION_VIOLATION, "a CALL's action must be a string", code_201=_RPC
        )
    if not isinstance(payload, dict):
        return FrameFault(unique_id, FORMATION_VIOLATION, "a CALL's payload must be an object")
    return Call(unique_id, action, payload)


def _call_result(unique_id: str, message: list[Any]) -> CallResult | FrameFault:
    if len(message) != 3 or not isinstance(message[2], dict):
        return FrameFault(
            unique_id, FORMATION_VIOLATION, "a CALLRESULT is [3, id, {payload}]", replyable=False
        )
    return CallResult(unique_id, message[2])


def _call_error(unique_id: str, message: list[Any]) -> CallErrorFrame | FrameFault:
    # Stations often leave out the details object; we take [4, id, code, description].
    if len(message) not in (4, 5) or not isinstance(message[2], str):
        return FrameFault(
            unique_id,
            FORMATION_VIOLATION,
            "a CALLERROR is [4, id, code, description, {details}]",
            replyable=False,
        )
    description = message[3] if isinstance(message[3], str) else _encode(message[3])
    details = message[4] if len(message) == 5 and isinstance(message[4], dict) else {}
    return CallErrorFrame(unique_id, message[2], description, details)


def encode(frame: Frame) -> str:
    """The frame as OCPP-J text."""
    if isinstance(frame, Call):
        body: list[Any] = [CALL, frame.unique_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        body = [CALLRESULT, frame.unique_id, frame.payload]
    else:
        body = [CALLERROR, frame.unique_id, frame.code, frame.description, frame.details]
    text: str = _encode(body)
    return text


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
