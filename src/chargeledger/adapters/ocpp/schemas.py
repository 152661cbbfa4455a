"""The ``ocpp`` package's OCPP 1.6 and 2.0.1 JSON schemas, compiled once into fast
validators, each version's by its WebSocket subprotocol (``OCPP16``, ``OCPP201``).

``check`` names a payload's fault with the CALLERROR code OCPP-J gives it. Schemas
are named by action, as 1.6 names its files: ``Heartbeat`` and ``HeartbeatResponse``
(2.0.1's files say ``HeartbeatRequest``; that is resolved here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import fastjsonschema

from chargeledger.adapters.ocpp import framing
from chargeledger.errors import ChargeledgerError

Validator = Callable[[Any], Any]

OCPP16: Final = "ocpp1.6"
OCPP201: Final = "ocpp2.0.1"
_PACKAGES: Final = {OCPP16: "ocpp.v16.schemas", OCPP201: "ocpp.v201.schemas"}

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

STATION_ACTIONS_201: Final = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)
"""The CALLs a 2.0.1 station may send."""

STATION_ACTIONS_OF: Final = {OCPP16: STATION_ACTIONS, OCPP201: STATION_ACTIONS_201}


MIN_YEAR: Final = 1970
MAX_YEAR: Final = 9998
"""Times outside these years are refused: nothing real happens then, and a time at the
edge of what ``datetime`` holds (``9999-12-31T23:59:59-23:59``) cannot be moved to UTC."""

MAX_INTEGER: Final = 2**31 - 1
MIN_INTEGER: Final = -(2**31)
"""OCPP integers are 32-bit in practice (ids, Wh, seconds); a larger one is refused."""

MAX_NUMBER: Final = 1e12
"""Decimals (limits, rates) beyond this are nonsense and would overflow what uses them."""

MAX_CONNECTOR_ID: Final = 255
"""Connector ids are 0 (the station) to this; larger ids are refused, not made connectors."""


def _is_iso_8601(value: str) -> bool:
    if _ISO_8601.match(value) is None:
        return False
    try:
        parsed = datetime.fromisoformat(value.upper().replace(" ", "T"))
    except ValueError:
        return False
    return MIN_YEAR <= parsed.year <= MAX_YEAR


class PayloadError(ChargeledgerError):
    """A payload that breaks its schema, with the CALLERROR code that names the fault."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@cache
def _schema_names(version: str = OCPP16) -> frozenset[str]:
    folder = resources.files(_PACKAGES[version])
    return frozenset(
        _action_name(entry.name.removesuffix(".json"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


def _action_name(file_name: str) -> str:
    return file_name.removesuffix("Request") if file_name.endswith("Request") else file_name


def _file_name(name: str, version: str) -> str:
    if version == OCPP16 or name.endswith("Response"):
        return name
    return f"{name}Request"


@cache
def validator(name: str, version: str = OCPP16) -> Validator | None:
    """The compiled validator of schema ``name`` (``Heartbeat``, ``HeartbeatResponse``)
    of ``version``, compiled on first use and kept for the life of the process."""
    if version not in _PACKAGES or name not in _schema_names(version):
        return None
    schema = _load(name, version)
    schema.pop("$schema", None)
    schema.pop("id", None)
    schema.pop("$id", None)
    compiled: Validator = fastjsonschema.compile(
        schema, formats={"date-time": _is_iso_8601}, use_formats=True
    )
    return compiled


_VALIDATORS: dict[tuple[str, str], Validator] = {}
"""Warmed-up validators, looked up without the cache wrapper on the hot path."""


def warm_up(actions: Iterable[str], version: str = OCPP16) -> None:
    """Compile the request and response validators of ``actions`` now, not on first use."""
    for action in actions:
        for name in (action, f"{action}Response"):
            compiled = validator(name, version)
            if compiled is not None:
                _VALIDATORS[name, version] = compiled


def allowed_values(action: str, field: str, version: str = OCPP16) -> frozenset[str]:
    """The values ``version``'s request ``action`` allows in its field ``field`` (an
    enum at the top of the payload; none when it is not one)."""
    schema = _load(action, version)
    found = schema.get("properties", {}).get(field, {})
    resolved = _resolved(found, schema.get("definitions", {}), 0)
    return frozenset(resolved.get("enum", ()))


def known_action(action: str, version: str = OCPP16) -> bool:
    """Whether ``action`` is a message of ``version`` (in either direction)."""
    return not action.endswith("Response") and action in _schema_names(version)


def check(name: str, payload: dict[str, Any], version: str = OCPP16) -> None:
    """Raise ``PayloadError`` when ``payload`` breaks schema ``name`` of ``version``."""
    validate = _VALIDATORS.get((name, version)) or validator(name, version)
    if validate is None:
        spoken = "OCPP 1.6" if version == OCPP16 else "OCPP 2.0.1"
        raise PayloadError(framing.NOT_IMPLEMENTED, f"{name}: no {spoken} schema")
    try:
        validate(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        rule = exc.rule or ""
        code = _CODE_BY_RULE.get(rule, framing.FORMATION_VIOLATION)
        message = (exc.message or rule).replace("data.", "", 1).replace("data ", "payload ", 1)
        raise PayloadError(code, f"{name}: {message}") from None
    numbers = _numbers_of(name, version)
    if numbers is not None:
        _check_numbers(name, numbers, payload, "")
    where = _nul_in(payload, "")
    if where is not None:
        raise PayloadError(
            framing.PROPERTY_CONSTRAINT_VIOLATION,
            f"{name}: {where or 'payload'} holds U+0000, which no field of OCPP may hold",
        )


def _nul_in(value: Any, path: str) -> str | None:
    """The path of a string holding U+0000, if any. Valid JSON and valid Unicode, but
    PostgreSQL cannot store it (in text or JSONB): taken in, it would fail the station's
    boot and transactions, and every later twin flush with it (issue 10)."""
    if type(value) is str:
        return path if "\x00" in value else None
    if type(value) is dict:
        for key, item in value.items():
            found = _nul_in(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif type(value) is list:
        for index, item in enumerate(value):
            found = _nul_in(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _check_numbers(name: str, schema: dict[str, Any], value: Any, path: str) -> None:
    """What JSON Schema lets through: ``1.0``, ``2e0`` and ``1e308`` are integers to it
    (draft 4 leaves it open, fastjsonschema takes them), but OCPP-J names an integer
    field holding a float a ``TypeConstraintViolation``; and numbers beyond what any
    real value is (connector 1000, meterStart 2^63) are a ``PropertyConstraintViolation``.
    Runs after the schema passed, so every value has the type its schema names (but for
    the floats)."""
    kind = schema.get("type")
    if kind == "integer":
        if type(value) is float:
            raise PayloadError(
                framing.TYPE_CONSTRAINT_VIOLATION,
                f"{name}: {path or 'payload'} must be an integer, not {value!r}",
            )
        if type(value) is int:
            numbered = path.endswith(("connectorId", "evseId", "evse.id"))
            high = MAX_CONNECTOR_ID if numbered else MAX_INTEGER
            low = 0 if numbered else MIN_INTEGER
            if not low <= value <= high:
                raise PayloadError(
                    framing.PROPERTY_CONSTRAINT_VIOLATION,
                    f"{name}: {path} must be {low} to {high}, not {value}",
                )
    elif kind == "number":
        if type(value) in (int, float) and not -MAX_NUMBER <= value <= MAX_NUMBER:
            raise PayloadError(
                framing.PROPERTY_CONSTRAINT_VIOLATION,
                f"{name}: {path} must be within ±{MAX_NUMBER:g}, not {value!r}",
            )
    elif kind == "object" and isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _check_numbers(name, sub, value[key], f"{path}.{key}" if path else key)
    elif kind == "array" and isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _check_numbers(name, items, item, f"{path}[{index}]")


@cache
def _numbers_of(name: str, version: str = OCPP16) -> dict[str, Any] | None:
    """Schema ``name`` if it holds an integer or a number anywhere, else None (nothing
    to check: most messages, Heartbeat among them); 2.0.1's ``$ref``s resolved."""
    if version not in _PACKAGES or name not in _schema_names(version):
        return None
    schema = _load(name, version)
    text = json.dumps(schema)
    if '"integer"' not in text and '"number"' not in text:
        return None
    resolved: dict[str, Any] = _resolved(schema, schema.get("definitions", {}), 0)
    return resolved


def _resolved(value: Any, definitions: dict[str, Any], depth: int) -> Any:
    """``value`` with its ``#/definitions/X`` references inlined (2.0.1's schemas have
    no recursive ones; ``depth`` bounds it all the same)."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/") and depth < 16:
            return _resolved(definitions.get(ref.rsplit("/", 1)[1], {}), definitions, depth + 1)
        return {key: _resolved(item, definitions, depth) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, definitions, depth) for item in value]
    return value


def _load(name: str, version: str = OCPP16) -> dict[str, Any]:
    folder = resources.files(_PACKAGES[version])
    text = folder.joinpath(f"{_file_name(name, version)}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
