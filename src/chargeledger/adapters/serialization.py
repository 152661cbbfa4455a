"""Events to JSON and back: a type name, a schema version, and upcasters for old versions."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any

from chargeledger.domain.events import ALL_EVENTS, Event

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventTypeError(Exception):
    pass


class EventCodec:
    """Encodes frozen dataclass events; decodes them, upcasting old schema versions.

    ``upcasters[(type_name, version)]`` turns data of that version into the next.
    """

    def __init__(
        self,
        event_types: Iterable[type[Event]] = ALL_EVENTS,
        schema_versions: dict[str, int] | None = None,
        upcasters: dict[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self._types = {t.__name__: t for t in event_types}
        self._schema_versions = schema_versions or {}
        self._upcasters = upcasters or {}

    def schema_version(self, type_name: str) -> int:
        return self._schema_versions.get(type_name, 1)

    def encode(self, event: Event) -> tuple[str, int, str]:
        type_name = type(event).__name__
        if type_name not in self._types:
            raise UnknownEventTypeError(f"event type {type_name} is not registered")
        data = json.dumps(dataclasses.asdict(event), separators=(",", ":"))
        return type_name, self.schema_version(type_name), data

    def decode(self, type_name: str, schema_version: int, data: str) -> Event:
        event_type = self._types.get(type_name)
        if event_type is None:
            raise UnknownEventTypeError(f"unknown event type {type_name!r}")
        fields = json.loads(data)
        version = schema_version
        while version < self.schema_version(type_name):
            upcast = self._upcasters.get((type_name, version))
            if upcast is None:
                raise UnknownEventTypeError(
                    f"no upcaster for {type_name} from schema version {version}"
                )
            fields = upcast(fields)
            version += 1
        return event_type(**fields)


def encode_outcome(outcome: dict[str, Any] | None) -> str | None:
    return None if outcome is None else json.dumps(outcome, separators=(",", ":"))
