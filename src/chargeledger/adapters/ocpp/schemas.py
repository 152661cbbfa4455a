"""The ``ocpp`` package's OCPP 1.6 JSON schemas, compiled once into fast validators.

``check`` names a payload's fault with the CALLERROR code OCPP-J 1.6 gives it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any, Final

import fastjsonschema

from chargeledger.adapters.ocpp import framing

Validator = Callable[[Any], Any]

# Stations send timestamps with and without a zone and with any fraction; the
# specification's intent is ISO 8601, so we accept what real stations send.
_ISO_8601 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)?$"
)

_CODE_BY_RULE: Final = {
    "type": framing.TYPE_CONSTRAINT_VIOLATION,
    "required": framing.PROTOCOL_ERROR,  # "payload for action is incomplete"
    "additionalProperties": framing.FORMATION_VIOLATION,
    "enum": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "const": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "maxLength": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "minLength": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "minimum": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "maximum": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "exclusiveMinimum": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "exclusiveMaximum": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "multipleOf": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "format": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "pattern": framing.PROPERTY_CONSTRAINT_VIOLATION,
    "minItems": framing.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": framing.OCCURRENCE_CONSTRAINT_VIOLATION,
    "uniqueItems": framing.OCCURRENCE_CONSTRAINT_VIOLATION,
}

STATION_ACTIONS: Final = frozenset(
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
        # OCPP 1.6 security extension
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)
"""The CALLs a 1.6 station may send; any other 1.6 action flows the other way."""


def _is_iso_8601(value: str) -> bool:
    return _ISO_8601.match(value) is not None


class PayloadError(Exception):
    """A payload that breaks its schema, with the CALLERROR code that names the fault."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@cache
def _schema_names() -> frozenset[str]:
    folder = resources.files("ocpp.v16.schemas")
    return frozenset(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


@cache
def validator(name: str) -> Validator | None:
    """The compiled validator of schema ``name`` (``Heartbeat``, ``HeartbeatResponse``),
    compiled on first use and kept for the life of the process."""
    if name not in _schema_names():
        return None
    text = resources.files("ocpp.v16.schemas").joinpath(f"{name}.json").read_text("utf-8")
    schema = json.loads(text)
    schema.pop("$schema", None)
    schema.pop("id", None)
    schema.pop("$id", None)
    compiled: Validator = fastjsonschema.compile(
        schema, formats={"date-time": _is_iso_8601}, use_formats=True
    )
    return compiled


_VALIDATORS: dict[str, Validator] = {}
"""Warmed-up validators, looked up without the cache wrapper on the hot path."""


def warm_up(actions: Iterable[str]) -> None:
    """Compile the request and response validators of ``actions`` now, not on first use."""
    for action in actions:
        for name in (action, f"{action}Response"):
            compiled = validator(name)
            if compiled is not None:
                _VALIDATORS[name] = compiled


def known_action(action: str) -> bool:
    """Whether ``action`` is an OCPP 1.6 message (in either direction)."""
    return not action.endswith("Response") and action in _schema_names()


def check(name: str, payload: dict[str, Any]) -> None:
    """Raise ``PayloadError`` when ``payload`` breaks schema ``name``."""
    validate = _VALIDATORS.get(name) or validator(name)
    if validate is None:
        raise PayloadError(framing.NOT_IMPLEMENTED, f"{name}: no OCPP 1.6 schema")
    try:
        validate(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        rule = exc.rule or ""
        code = _CODE_BY_RULE.get(rule, framing.FORMATION_VIOLATION)
        message = (exc.message or rule).replace("data.", "", 1).replace("data ", "payload ", 1)
        raise PayloadError(code, f"{name}: {message}") from None
