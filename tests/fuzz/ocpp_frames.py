"""Hostile and valid OCPP-J frames, built from the JSON schemas the ``ocpp`` package
ships (``ocpp/v16/schemas``; ``ocpp/v201/schemas`` for ``version=OCPP201``), each with
the answer OCPP-J names for it (1.6's codes; ``ocpp201_frames`` gives 2.0.1's).

A ``Case`` is one frame's text and what the node must answer: a CALLRESULT, one of
a set of CALLERROR codes, or nothing at all (a response to no CALL of the node's).
``cases()`` is the hypothesis strategy the test suite draws from and the benchmark
pre-generates its pool with (``bench/fuzz.py``).

A frame's text carries ``ID`` where its message id goes, so a sender can give every
frame its own id; frames whose id is itself the defect hold a fixed one.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Final

from hypothesis import strategies as st

from chargeledger.adapters.ocpp import framing, schemas

ID: Final = "\x00id\x00"
"""Stands for the message id in a frame's text until it is sent (``Case.text``)."""
_ID_JSON: Final = json.dumps(ID)

RESULT: Final = "CALLRESULT"
NO_ANSWER: Final = frozenset[str]()

SERVED: Final = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
    }
)
"""The station actions the node handles; the other station actions of
``schemas.STATION_ACTIONS`` (the security extension) are answered NotSupported."""

SERVED_201: Final = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyEvent",
        "NotifyReport",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "StatusNotification",
        "TransactionEvent",
    }
)
"""The 2.0.1 station actions the node handles (``v201/messages.py``); the others of
``schemas.STATION_ACTIONS_201`` are answered NotSupported."""

SERVED_OF: Final = {schemas.OCPP16: SERVED, schemas.OCPP201: SERVED_201}
STATION_ACTIONS: Final = tuple(sorted(schemas.STATION_ACTIONS))
STATION_ACTIONS_OF: Final = {
    version: tuple(sorted(actions)) for version, actions in schemas.STATION_ACTIONS_OF.items()
}
CSMS_ACTIONS: Final = (
    "RemoteStartTransaction",
    "Reset",
    "ChangeConfiguration",
    "GetConfiguration",
    "TriggerMessage",
    "SetChargingProfile",
    "UnlockConnector",
    "CertificateSigned",
)


@dataclass(frozen=True, slots=True)
class Case:
    """``template`` is the frame's text with ``ID`` for the message id (or a fixed id);
    ``expect`` the acceptable answers: ``RESULT`` and/or CALLERROR codes, empty for a
    frame that must get no answer; ``answer_id`` the id the answer carries when it is
    not the one sent (``framing.UNKNOWN_ID`` for a frame whose id cannot be read)."""

    template: str
    expect: frozenset[str]
    what: str
    answer_id: str | None = None

    def text(self, unique_id: str) -> str:
        return self.template.replace(_ID_JSON, json.dumps(unique_id))

    def answered_id(self, unique_id: str) -> str:
        return unique_id if self.answer_id is None else self.answer_id


# -- the schemas -------------------------------------------------------------------


_SCHEMA_FILES: Final = {
    schemas.OCPP16: ("ocpp.v16.schemas", ""),
    schemas.OCPP201: ("ocpp.v201.schemas", "Request"),
}
"""Each version's schema package, and what its request schemas' names end with."""


@cache
def schema(action: str, version: str = schemas.OCPP16) -> dict[str, Any]:
    """The request schema of ``action`` with every ``$ref`` replaced by what it names."""
    package, suffix = _SCHEMA_FILES[version]
    text = resources.files(package).joinpath(f"{action}{suffix}.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    definitions = document.get("definitions", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items() if k != "definitions"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(document)
    return resolved


# -- valid payloads ----------------------------------------------------------------

_EARLIEST = datetime(schemas.MIN_YEAR, 1, 2, tzinfo=UTC)
_LATEST = datetime(schemas.MAX_YEAR, 12, 30, tzinfo=UTC)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """ISO 8601 as stations write it: with Z, an offset or no zone, with or without
    a fraction, recent or at the edges of the years the node takes."""
    moment = draw(
        st.one_of(
            st.datetimes(
                min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.none()
            ),
            st.datetimes(
                min_value=_EARLIEST.replace(tzinfo=None),
                max_value=_LATEST.replace(tzinfo=None),
                timezones=st.none(),
            ),
        )
    )
    text = moment.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds"])))
    zone = draw(st.sampled_from(["Z", "+00:00", "", "+02:00", "-05:30", "+23:59", "-23:59"]))
    return text + zone


_SAFE_TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
"""Any character a string may hold: not a lone surrogate (not text), not U+0000 (which
no store keeps; both are defects of their own)."""


def numbered(path: tuple[Any, ...]) -> bool:
    """A connector or EVSE number (``schemas``: 0-255): ``connectorId``, ``evseId``, or
    2.0.1's ``evse.id``."""
    names = [str(step) for step in path if isinstance(step, str)]
    return bool(names) and (names[-1] in ("connectorId", "evseId") or names[-2:] == ["evse", "id"])


def valid(node: dict[str, Any], path: tuple[Any, ...] = ()) -> st.SearchStrategy[Any]:
    """Payloads ``node`` (a schema, at ``path``) takes, and the node's own bounds too
    (32-bit integers, connector and EVSE ids 0-255, years 1970-9998)."""
    kind = node.get("type")
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if kind == "object":
        properties = node.get("properties", {})
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {k: valid(v, (*path, k)) for k, v in properties.items() if k in required},
            optional={k: valid(v, (*path, k)) for k, v in properties.items() if k not in required},
        )
    if kind == "array":
        low = node.get("minItems", 0)
        items = valid(node.get("items", {}), (*path, 0))
        return st.lists(items, min_size=low, max_size=max(low, 3))
    if kind == "string":
        if node.get("format") == "date-time":
            return timestamps()
        limit = node.get("maxLength", 200)
        return st.text(_SAFE_TEXT, max_size=limit) | st.text(string.printable, max_size=limit)
    if kind == "integer":
        if numbered(path):
            return st.integers(0, 4) | st.integers(0, schemas.MAX_CONNECTOR_ID)
        low = max(int(node.get("minimum", schemas.MIN_INTEGER)), schemas.MIN_INTEGER)
        high = min(int(node.get("maximum", schemas.MAX_INTEGER)), schemas.MAX_INTEGER)
        return st.integers(max(low, 0), min(high, 100)) | st.integers(low, high)
    if kind == "number":  # the schemas' bounds too (2.0.1 has some: ePriceLevel >= 0)
        low = max(node.get("minimum", -schemas.MAX_NUMBER), -schemas.MAX_NUMBER)
        high = min(node.get("maximum", schemas.MAX_NUMBER), schemas.MAX_NUMBER)
        return st.integers(max(low, -1000), min(high, 1000)) | st.floats(low, high, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    return st.none()


def payloads(action: str, version: str = schemas.OCPP16) -> st.SearchStrategy[dict[str, Any]]:
    strategy: st.SearchStrategy[dict[str, Any]] = valid(schema(action, version))
    return strategy


# -- one defect in a payload -------------------------------------------------------

TYPE: Final = framing.TYPE_CONSTRAINT_VIOLATION
PROPERTY: Final = framing.PROPERTY_CONSTRAINT_VIOLATION
FORMATION: Final = framing.FORMATION_VIOLATION
PROTOCOL: Final = framing.PROTOCOL_ERROR
OCCURRENCE: Final = framing.OCCURRENCE_CONSTRAINT_VIOLATION


@dataclass(frozen=True, slots=True)
class Raw:
    """A value written into the frame's text as is (``2e0`` stays ``2e0``)."""

    text: str


def deep(depth: int) -> Raw:
    return Raw("[" * depth + "]" * depth)


FLOATS_FOR_INTEGERS: Final = ("1.0", "2e0", "0.0", "-0.0", "1E2", "1e308", "-1e308", "3.5", "1e400")
HUGE_INTEGERS: Final = (2**31, 2**63, -(2**63) - 1, 10**30, 2**64)
HUGE_NUMBERS: Final = ("1e308", "-1e308", "1e13", "9223372036854775808", "1e400", "-1e400")
NOT_DATES: Final = (
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "1969-12-31T23:59:59Z",
    "2024-02-30T00:00:00Z",
    "2024-13-01T00:00:00Z",
    "yesterday",
    "",
    "2024-01-01T25:00:00Z",
)
WRONG_TYPES: Final = {
    "string": (5, 1.5, True, None, [], {}, Raw("[1]")),
    "integer": ("1", True, False, None, [], {}, "", Raw('{"a":1}')),
    "number": ("1", True, None, [], {}),
    "boolean": ("true", 1, 0, None, []),
    "array": ({}, "x", 1, None, True),
    "object": ([], "x", 1, None, True),
}
LONE_SURROGATES: Final = ("\ud800", "\udfff", "a\udbffb", "\udc00\ud800")


def _leaves(node: dict[str, Any], value: Any, path: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Every (path, schema) pair of a value present in ``value``."""
    found: list[tuple[Any, ...]] = [(path, node)]
    kind = node.get("type")
    if kind == "object" and isinstance(value, dict):
        for key, sub in node.get("properties", {}).items():
            if key in value:
                found += _leaves(sub, value[key], (*path, key))
    elif kind == "array" and isinstance(value, list):
        for index, item in enumerate(value):
            found += _leaves(node.get("items", {}), item, (*path, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def _defect(
    draw: st.DrawFn, node: dict[str, Any], path: tuple[Any, ...]
) -> tuple[Any, frozenset[str], str]:
    """A wrong value for a field of schema ``node``, the codes it earns, and what it is."""
    kind = node.get("type")
    choices: list[tuple[st.SearchStrategy[Any], frozenset[str], str]] = []
    wrong = WRONG_TYPES.get(str(kind), ())
    if wrong:
        choices.append((st.sampled_from(wrong), frozenset({TYPE}), "wrong type"))
    choices.append((st.integers(2, 60).map(deep), frozenset({TYPE}), "nested arrays for a field"))
    if kind == "integer":
        choices.append(
            (st.sampled_from(FLOATS_FOR_INTEGERS).map(Raw), frozenset({TYPE}), "float for int")
        )
        choices.append((st.sampled_from(HUGE_INTEGERS), frozenset({PROPERTY}), "huge integer"))
        if numbered(path):
            negative = st.integers(-(2**31), -1) | st.integers(schemas.MAX_CONNECTOR_ID + 1, 10**6)
            choices.append((negative, frozenset({PROPERTY}), "connector id out of range"))
    if kind == "number":
        huge = st.sampled_from(HUGE_NUMBERS).map(Raw)
        choices.append((huge, frozenset({PROPERTY}), "huge number"))
    if kind == "string":
        surrogate = st.sampled_from(LONE_SURROGATES)
        choices.append((surrogate, frozenset({FORMATION}), "lone surrogate"))
        nul = st.sampled_from(("\x00", "a\x00b", "\x00" * 10))
        choices.append((nul, frozenset({PROPERTY}), "U+0000 in a string"))
        if node.get("format") == "date-time":
            choices.append((st.sampled_from(NOT_DATES), frozenset({PROPERTY}), "not a date"))
        elif "enum" in node:
            bad = st.text(string.ascii_letters, max_size=30).filter(lambda s: s not in node["enum"])
            choices.append((bad, frozenset({PROPERTY}), "not in the enumeration"))
        elif "maxLength" in node:
            limit = node["maxLength"]
            long = st.integers(limit + 1, limit + 3000).map(lambda n: "x" * n)
            choices.append((long, frozenset({PROPERTY}), "longer than maxLength"))
    if kind == "array" and node.get("minItems", 0) > 0:
        choices.append((st.just([]), frozenset({OCCURRENCE}), "fewer items than minItems"))
    if kind == "object":
        properties = node.get("properties", {})
        required = [k for k in node.get("required", [])]
        extra = st.text(string.ascii_letters, min_size=1, max_size=20).filter(
            lambda k: k not in properties
        )
        if node.get("additionalProperties") is False:  # 2.0.1's customData takes any
            choices.append((extra, frozenset({FORMATION}), "unknown field"))
        if required:
            choices.append((st.sampled_from(required), frozenset({PROTOCOL}), "missing field"))
    strategy, codes, what = draw(st.sampled_from(choices))
    return draw(strategy), codes, what


@st.composite
def payload_defects(draw: st.DrawFn, version: str = schemas.OCPP16) -> Case:
    """A valid payload of a station action with one defect at one place in it."""
    action = draw(st.sampled_from(STATION_ACTIONS_OF[version]))
    node = schema(action, version)
    payload = draw(payloads(action, version))
    # A field of any type (2.0.1's DataTransfer data) has no wrong value.
    typed = [(path, sub) for path, sub in _leaves(node, payload, ()) if "type" in sub]
    path, sub = draw(st.sampled_from(typed))
    value, codes, what = draw(_defect(sub, path))
    if sub.get("type") == "object" and what == "unknown field":
        target = _get(payload, path)
        payload = _replace(payload, path, {**target, value: draw(valid({"type": "string"}))})
    elif sub.get("type") == "object" and what == "missing field":
        target = dict(_get(payload, path))
        del target[value]
        payload = _replace(payload, path, target)
    elif not path and sub.get("type") == "object":
        # The whole payload replaced: not an object is a frame defect, not a type one.
        codes = frozenset({FORMATION})
        payload = value
    else:
        payload = _replace(payload, path, value)
    if action not in SERVED_OF[version]:
        codes |= {framing.NOT_SUPPORTED}  # refused before its payload is looked at
    where = ".".join(map(str, path)) or "payload"
    return Case(call_text(action, payload, draw(st.booleans())), codes, f"{action} {where}: {what}")


@st.composite
def valid_calls(draw: st.DrawFn, version: str = schemas.OCPP16) -> Case:
    action = draw(st.sampled_from(STATION_ACTIONS_OF[version]))
    payload = draw(payloads(action, version))
    served = action in SERVED_OF[version]
    expect = frozenset({RESULT}) if served else frozenset({framing.NOT_SUPPORTED})
    return Case(call_text(action, payload, draw(st.booleans())), expect, f"valid {action}")


def to_json(value: Any, ascii_only: bool = True) -> str:
    """``value`` as JSON text, with every ``Raw`` written as it is."""
    raws: list[str] = []

    def swap(item: Any) -> Any:
        if isinstance(item, Raw):
            raws.append(item.text)
            return f"\x00raw{len(raws) - 1}\x00"
        if isinstance(item, dict):
            return {k: swap(v) for k, v in item.items()}
        if isinstance(item, list):
            return [swap(v) for v in item]
        return item

    text = json.dumps(swap(value), ensure_ascii=ascii_only, separators=(",", ":"))
    if not ascii_only and not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate travels as its JSON escape only
            text = json.dumps(swap(value), separators=(",", ":"))
    for index, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x00raw{index}\x00"), raw, 1)
    return text


def call_text(action: Any, payload: Any, ascii_only: bool = True) -> str:
    return to_json([framing.CALL, Raw(_ID_JSON), action, payload], ascii_only)


# -- defects of the frame itself ---------------------------------------------------

HEARTBEAT: Final = "{}"
_NOT_LISTS: Final = ('{"a":1}', '"text"', "5", "null", "true", "{}", '""', "1e400")
_NOT_JSON: Final = (
    "",
    "[",
    "[2,",
    "not json",
    '[2,"x","Heartbeat",{}',
    "[NaN]",
    '[2,"x","Heartbeat",{"a":Infinity}]',
    '[2,"x","Heartbeat",{"a":-Infinity}]',
    "\ufeff[]",
    '[2,"x","Heartbeat",{}]]',
    "[2,'x','Heartbeat',{}]",
)


def _unknown_id(what: str, text: str) -> Case:
    return Case(text, frozenset({FORMATION}), what, framing.UNKNOWN_ID)


@st.composite
def frame_defects(draw: st.DrawFn) -> Case:
    """A frame that is not a well-formed OCPP-J message, or answers nothing of ours."""
    kind = draw(st.integers(0, 12))
    any_json = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(_SAFE_TEXT, max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    )
    if kind == 0:
        return _unknown_id("not a JSON array", draw(st.sampled_from(_NOT_LISTS)))
    if kind == 1:
        return _unknown_id("not JSON", draw(st.sampled_from(_NOT_JSON)))
    if kind == 2:
        depth = draw(st.integers(3000, 20000))
        return _unknown_id("nested past any parser", "[" * depth + "]" * depth)
    if kind == 3:
        short = draw(st.sampled_from(["[]", "[2]", f"[2,{_ID_JSON}]", '["2"]']))
        return _unknown_id("too short", short)
    if kind == 4:
        type_id = draw(st.integers(-(2**70), 2**70).filter(lambda n: n not in (2, 3, 4)))
        text = to_json([type_id, Raw(_ID_JSON), "Heartbeat", {}])
        return Case(text, frozenset({PROTOCOL}), f"message type id {type_id}")
    if kind == 5:
        type_id = draw(st.sampled_from(['"2"', "2.0", "null", "true", "[2]", '"CALL"', "2e0"]))
        text = f'[{type_id},{_ID_JSON},"Heartbeat",{{}}]'
        return Case(text, frozenset({FORMATION}), f"message type id {type_id}")
    if kind == 6:
        unique_id = draw(st.sampled_from(["5", "null", "[]", "{}", "1.5", "true", '""']))
        return _unknown_id(f"message id {unique_id}", f'[2,{unique_id},"Heartbeat",{{}}]')
    if kind == 7:
        long_id = "x" * draw(st.integers(framing.MAX_UNIQUE_ID_LENGTH + 1, 400))
        text = to_json([2, long_id, "Heartbeat", {}])
        return Case(text, frozenset({FORMATION}), "message id too long", long_id)
    if kind == 8:
        action = draw(
            st.text(string.ascii_letters, min_size=1, max_size=40).filter(
                lambda a: (
                    a not in STATION_ACTIONS
                    and not schemas.known_action(a)
                    and not a.endswith("Response")
                )
            )
        )
        return Case(call_text(action, {}), frozenset({framing.NOT_IMPLEMENTED}), "unknown action")
    if kind == 9:
        action = draw(st.sampled_from(CSMS_ACTIONS))
        return Case(call_text(action, {}), frozenset({framing.NOT_SUPPORTED}), "a CSMS action")
    if kind == 10:
        shape = draw(
            st.sampled_from(
                [
                    [2, Raw(_ID_JSON), "Heartbeat"],
                    [2, Raw(_ID_JSON), "Heartbeat", {}, {}],
                    [2, Raw(_ID_JSON), "", {}],
                    [2, Raw(_ID_JSON), 5, {}],
                    [2, Raw(_ID_JSON), None, {}],
                    [2, Raw(_ID_JSON), "Heartbeat", []],
                    [2, Raw(_ID_JSON), "Heartbeat", "x"],
                    [2, Raw(_ID_JSON), "Heartbeat", None],
                    [2, Raw(_ID_JSON), "Heartbeat", deep(40)],
                ]
            )
        )
        return Case(to_json(shape), frozenset({FORMATION}), f"CALL shaped {to_json(shape)[:40]}")
    if kind == 11:
        answer = draw(
            st.sampled_from(
                [
                    [3, Raw(_ID_JSON), {}],
                    [3, Raw(_ID_JSON), {"status": "Accepted"}],
                    [4, Raw(_ID_JSON), "GenericError", "", {}],
                    [4, Raw(_ID_JSON), "NotImplemented", "x"],
                    [3, Raw(_ID_JSON)],
                    [3, Raw(_ID_JSON), []],
                    [4, Raw(_ID_JSON), 5, "x", {}],
                    [3, 5, {}],
                    [4, None, "x", "y", {}],
                    [3, Raw(_ID_JSON), {"a": "\ud800"}],
                ]
            )
        )
        return Case(to_json(answer), NO_ANSWER, "an answer to no CALL of ours")
    # A well-formed frame with a value nobody expects where the payload may hold anything.
    data = draw(any_json)
    text = call_text("DataTransfer", {"vendorId": "fuzz", "data": to_json(data)})
    return Case(text, frozenset({RESULT}), "DataTransfer with JSON text as data")


@st.composite
def surrogate_ids(draw: st.DrawFn) -> Case:
    surrogate = draw(st.sampled_from(LONE_SURROGATES))
    text = to_json([2, surrogate, "Heartbeat", {}])
    return Case(text, frozenset({FORMATION}), "lone surrogate in the message id", surrogate)


def cases() -> st.SearchStrategy[Case]:
    """Every kind of frame, valid ones among them."""
    return st.one_of(valid_calls(), payload_defects(), frame_defects(), surrogate_ids())


def heartbeat_text(unique_id: str) -> str:
    return json.dumps([framing.CALL, unique_id, "Heartbeat", {}])


__all__ = [
    "Case",
    "cases",
    "frame_defects",
    "heartbeat_text",
    "payload_defects",
    "payloads",
    "surrogate_ids",
    "valid_calls",
]
