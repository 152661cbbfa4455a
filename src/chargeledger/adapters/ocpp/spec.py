"""The framework a protocol version's operation table plugs into (``v16/operations.py``
today; a ``v201/`` folder can sit beside it): the ``OperationSpec`` type, the
snake_case-to-camelCase mapping most payloads need, and ``SpokenOperations``, the
``StationProtocol`` the dispatcher speaks through.

A spec pairs a domain ``Operation`` with how it travels: the API body it is
requested with, the OCPP action, the CALL payload made from the stored payload
(snake_case, as the API body; unset fields left out), which answer statuses count
as accepted (anything else ends ``rejected``), and ``details``: what a status means,
in the command's ``detail``. The answer is always kept as the command's ``result``.
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, Strict

from chargeledger.adapters.ocpp import schemas
from chargeledger.domain.enums import Outcome
from chargeledger.domain.operations import Operation

_CAMEL = re.compile(r"_([a-z])")


def camel(value: Any) -> Any:
    """snake_case keys to camelCase, all the way down; ``None`` values left out."""
    if isinstance(value, Mapping):
        return {
            _CAMEL.sub(lambda m: m.group(1).upper(), key): camel(item)
            for key, item in value.items()
            if item is not None
        }
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    """A body's value as the stored payload holds it (times as ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def request_number(command_id: str) -> int:
    """A positive 31-bit number for a command id, the same on every node and attempt."""
    return zlib.crc32(command_id.encode("utf-8")) & 0x7FFFFFFF


def status(result: Mapping[str, Any]) -> Any:
    return result.get("status")


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    added_later: ClassVar[frozenset[str]] = frozenset()
    """Optional fields added after requests were kept by their Idempotency-Key: left
    out of what a request says while unset, so one repeated across the upgrade says
    what it said before (the same fingerprint, the same command)."""
    ttl_s: Annotated[float, Strict()] | None = Field(
        default=None,
        gt=0,
        le=30 * 24 * 3600,
        description="seconds to wait for an offline station (default 600, at most 30 days)",
    )


@dataclass(frozen=True)
class OperationSpec:
    operation: Operation[Any]
    body: type[CommandBody]
    """The API body it is requested with (``ttl_s`` beside the arguments)."""
    action: str
    to_call: Callable[[Mapping[str, Any]], dict[str, Any]] = camel
    accepted_statuses: frozenset[str] = frozenset({"Accepted"})
    status_of: Callable[[Mapping[str, Any]], Any] = status
    """The answer's status; an answer without one is given one here."""
    details: Mapping[str, str] = field(default_factory=dict)
    """What each status means; ``{field}`` is filled from the command's payload."""
    numbered: bool = False
    """``to_call`` also gets ``request_id``, a number made from the command id (OCPP
    2.0.1's ``remoteStartId``, ``requestId``): the same command, the same number."""
    action_of: Callable[[Mapping[str, Any]], str] | None = None
    """The action when the payload picks it (2.0.1's get-configuration of every key is
    a GetBaseReport); ``None``: always ``action``."""

    @property
    def name(self) -> str:
        return self.operation.name

    def outcome_of(self, result: Mapping[str, Any]) -> Outcome:
        """``ACCEPTED`` or ``REJECTED``, by the answer's own status enum."""
        accepted = self.status_of(result) in self.accepted_statuses
        return Outcome.ACCEPTED if accepted else Outcome.REJECTED

    def detail_of(self, payload: Mapping[str, Any], result: Mapping[str, Any]) -> str:
        """What the answer means, in words, or ``""`` when its status says it all."""
        template = self.details.get(self.status_of(result))
        if template is None:
            return ""
        known = {name: "" if value is None else value for name, value in payload.items()}
        return template.format_map(defaultdict(str, known))


class SpokenOperations:
    """A protocol version's table of specs, as the ``StationProtocol`` port."""

    def __init__(
        self,
        specs: Iterable[OperationSpec],
        status_request: tuple[str, dict[str, Any]],
        protocol: str = schemas.OCPP16,
        checks_calls: bool = False,
    ) -> None:
        self.specs: Mapping[str, OperationSpec] = {spec.name: spec for spec in specs}
        self._status_request = status_request
        self.protocol = protocol
        self._checks_calls = checks_calls
        """Whether ``unspeakable`` checks a request's CALL against the schema (2.0.1, whose
        CALLs are made from 1.6's bodies); 1.6's bodies are its CALLs, checked as bodies.
        Either version's ``to_call`` may refuse what it cannot say (``ValueError``)."""

    def call(
        self, name: str, payload: Mapping[str, Any], command_id: str = ""
    ) -> tuple[str, dict[str, Any]]:
        spec = self.specs[name]
        if spec.numbered:
            payload = {**payload, "request_id": request_number(command_id)}
        action = spec.action if spec.action_of is None else spec.action_of(payload)
        return action, spec.to_call(payload)

    def speaks(self, name: str) -> bool:
        return name in self.specs

    def unspeakable(self, name: str, arguments: Mapping[str, Any]) -> str | None:
        spoken = "OCPP 2.0.1" if self.protocol == schemas.OCPP201 else "OCPP 1.6"
        if name not in self.specs:
            return f"{name} has no message in {spoken}, which the station speaks"
        payload = {key: _plain(value) for key, value in arguments.items()}
        try:
            action, call = self.call(name, payload)
            if self._checks_calls:
                schemas.check(action, call, self.protocol)
        except (KeyError, TypeError):
            return None  # the domain checks what is missing; the CALL is checked when sent
        except ValueError as error:
            return f"not sayable in {spoken}, which the station speaks: {error}"
        except schemas.PayloadError as error:
            return f"not sayable in {spoken}, which the station speaks: {error.description}"
        return None

    def answer(
        self, name: str, payload: Mapping[str, Any], result: Mapping[str, Any]
    ) -> tuple[Outcome, str]:
        spec = self.specs[name]
        return spec.outcome_of(result), spec.detail_of(payload, result)

    def status_request(self) -> tuple[str, dict[str, Any]]:
        action, payload = self._status_request
        return action, dict(payload)
