"""The ``ocpp`` package's OCPP 1.6 JSON schemas, compiled once into fast validators."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

Validator = Callable[[Any], Any]

# Stations send timestamps with and without a zone and with any fraction; the
# specification's intent is ISO 8601, so we accept what real stations send.
_ISO_8601 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)?$"
)

_CODE_BY_RULE = {
    "type": "TypeConstraintViolation",
    "required": "ProtocolError",
    "additionalProperties": "FormationViolation",
    "enum": "PropertyConstraintViolation",
    "maxLength": "PropertyConstraintViolation",
    "minLength": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
    "multipleOf": "PropertyConstraintViolation",
    "format": "PropertyConstraintViolation",
    "pattern": "PropertyConstraintViolation",
    "minItems": "OccurenceConstraintViolation",
    "maxItems": "OccurenceConstraintViolation",
}


def _is_iso_8601(value: str) -> bool:
    return _ISO_8601.match(value) is not None


class PayloadError(Exception):
    """A payload that breaks its schema, with the CALLERROR code that names the fault."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _schema_text(name: str) -> str | None:
    path = resources.files("ocpp.v16.schemas").joinpath(f"{name}.json")
    return path.read_text(encoding="utf-8") if path.is_file() else None


@cache
def validator(name: str) -> Validator | None:
    """The compiled validator of schema ``name`` (``Heartbeat``, ``HeartbeatResponse``)."""
    text = _schema_text(name)
    if text is None:
        return None
    schema = json.loads(text)
    schema.pop("$schema", None)
    compiled: Validator = fastjsonschema.compile(
        schema, formats={"date-time": _is_iso_8601}, use_formats=True
    )
    return compiled


def known_action(action: str) -> bool:
    return validator(action) is not None


def check(name: str, payload: dict[str, Any]) -> None:
    """Raise ``PayloadError`` when ``payload`` breaks schema ``name``."""
    validate = validator(name)
    if validate is None:
        raise PayloadError("NotImplemented", f"no schema for {name}")
    try:
        validate(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        rule = exc.rule or ""
        code = _CODE_BY_RULE.get(rule, "FormationViolation")
        message = (exc.message or rule).replace("data.", "", 1).replace("data ", "payload ", 1)
        raise PayloadError(code, f"{name}: {message}") from None
