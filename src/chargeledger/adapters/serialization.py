"""Events to JSON and back: a type name, a schema version, and upcasters for old versions."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

from chargeledger.application.ports import (
    CorruptEventError,
    InvalidAppendError,
    Metadata,
    RecordedEvent,
)
from chargeledger.domain.event import OMITTED_AT_DEFAULT
from chargeledger.domain.events import ALL_EVENTS, Event
from chargeledger.errors import StoreError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

MAX_EVENTS_PER_APPEND = 65_536
"""PostgreSQL positions leave 16 bits for an event's index within its transaction."""


class UnknownEventTypeError(InvalidAppendError):
    """An event type the codec does not know, on the way in or on the way out."""


def dumps(value: Any) -> str:
    """Compact JSON, the form every store writes."""
    return _json.encode(value)


class UnreadableDocumentError(StoreError, ValueError):
    """A stored document no read model can use: quarantine it, load the others."""


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise UnreadableDocumentError(f"the number {text[:40]} is beyond a float")
    return value


def _no_constant(name: str) -> Any:
    raise UnreadableDocumentError(f"{name} is not JSON")


_read_json = json.JSONDecoder(parse_float=_finite, parse_constant=_no_constant).decode


def loads_document(raw: bytes | str) -> dict[str, Any]:
    """A stored read-model document, refused (``UnreadableDocumentError``) when it is
    not one: invalid UTF-8, not JSON, not an object, a number beyond a float (``1e400``)
    or a lone surrogate (``"\\ud800"``). Each of these, once loaded, fails whatever
    writes it back or serves it (issue 10), so it stops here instead."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        doc = _read_json(text)
    except UnreadableDocumentError:
        raise
    except (ValueError, RecursionError) as error:
        raise UnreadableDocumentError(f"not JSON: {str(error)[:120]}") from None
    if not isinstance(doc, dict):
        raise UnreadableDocumentError(f"a document is a JSON object, not {type(doc).__name__}")
    if "\\u" in text:
        try:
            _json.encode(doc).encode("utf-8")
        except UnicodeEncodeError:
            raise UnreadableDocumentError("a string holds a lone surrogate") from None
    return doc


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
        self._fields = {
            name: tuple(f.name for f in dataclasses.fields(t)) for name, t in self._types.items()
        }
        self._closed_sets = {name: _closed_set_fields(t) for name, t in self._types.items()}
        self._added_later = {
            name: {
                f.name: f.default
                for f in dataclasses.fields(t)
                if f.metadata.get(OMITTED_AT_DEFAULT)
            }
            for name, t in self._types.items()
        }
        self._schema_versions = schema_versions or {}
        self._upcasters = upcasters or {}

    def schema_version(self, type_name: str) -> int:
        return self._schema_versions.get(type_name, 1)

    def encode(self, event: Event) -> tuple[str, int, str]:
        """``(type name, schema version, JSON)``; refuses what it could not read back."""
        type_name = type(event).__name__
        fields = self._fields.get(type_name)
        if fields is None or type(event) is not self._types[type_name]:
            raise UnknownEventTypeError(
                f"event type {type_name} is not registered with the codec; "
                "add it to the event types the store knows"
            )
        later = self._added_later[type_name]
        try:
            values = {name: getattr(event, name) for name in fields}
            if later:
                values = {k: v for k, v in values.items() if k not in later or v != later[k]}
            data = _json.encode(values)
        except TypeError:
            # Nested dataclasses are rare; only they pay for asdict's deep copy.
            try:
                whole = dataclasses.asdict(event)
                data = _json.encode(
                    {k: v for k, v in whole.items() if k not in later or v != later[k]}
                )
            except (TypeError, ValueError) as exc:
                raise InvalidAppendError(
                    f"event {type_name} cannot be stored as JSON ({exc}); "
                    "give it JSON-friendly fields"
                ) from exc
        except ValueError as exc:
            raise InvalidAppendError(
                f"event {type_name} cannot be stored as JSON ({exc}); give it finite numbers"
            ) from exc
        return type_name, self.schema_version(type_name), data

    def decode(self, type_name: str, schema_version: int, data: str | Mapping[str, Any]) -> Event:
        event_type = self._types.get(type_name)
        if event_type is None:
            raise UnknownEventTypeError(f"unknown event type {type_name!r}")
        current = self.schema_version(type_name)
        if schema_version > current:
            raise UnknownEventTypeError(
                f"{type_name} has schema version {schema_version}, newer than the "
                f"{current} this code knows"
            )
        fields = json.loads(data) if isinstance(data, str) else dict(data)
        if not isinstance(fields, dict):
            raise ValueError(f"event data is a JSON {type(fields).__name__}, not an object")
        version = schema_version
        while version < current:
            upcast = self._upcasters.get((type_name, version))
            if upcast is None:
                raise UnknownEventTypeError(
                    f"no upcaster for {type_name} from schema version {version}"
                )
            fields = upcast(fields)
            version += 1
        for name, kind in self._closed_sets[type_name]:
            value = fields.get(name)
            if isinstance(value, str) and not isinstance(value, kind):
                # A spelling outside the set (written before the set was a type) stays
                # as it was: an old event must never make its stream unreadable.
                fields[name] = _member_or_text(kind, value)
        return event_type(**fields)


def _closed_set_fields(event_type: type[Event]) -> tuple[tuple[str, type[StrEnum]], ...]:
    """The fields typed with a closed set (``X`` or ``X | None``), to decode as members."""
    hints = typing.get_type_hints(event_type)
    found: list[tuple[str, type[StrEnum]]] = []
    for field in dataclasses.fields(event_type):
        hint = hints[field.name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        options = typing.get_args(hint) if union else (hint,)
        for option in options:
            if isinstance(option, type) and issubclass(option, StrEnum):
                found.append((field.name, option))
    return tuple(found)


def _member_or_text(kind: type[StrEnum], value: str) -> str:
    try:
        return kind(value)
    except ValueError:
        return value


def encode_metadata(metadata: Metadata, recorded_at: str) -> str:
    """The metadata as JSON, stamped with ``recorded_at`` when the caller gave no time."""
    body = metadata.as_dict()
    body.setdefault("recorded_at", recorded_at)
    return _json.encode(body)


def decode_metadata(data: str | Mapping[str, Any]) -> Metadata:
    fields = json.loads(data) if isinstance(data, str) else data
    known = {k: fields[k] for k in Metadata.__dataclass_fields__ if k in fields}
    return Metadata(**known)


def encode_outcome(outcome: Mapping[str, Any] | None) -> str | None:
    return None if outcome is None else _json.encode(dict(outcome))


def decode_outcome(data: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return dict(json.loads(data)) if isinstance(data, str) else dict(data)


def check_append(stream_id: object, expected_version: object, events: Iterable[object]) -> None:
    """Refuse an append whose arguments no store could honour, before any write."""
    if not isinstance(stream_id, str) or not stream_id.strip():
        raise InvalidAppendError(f"stream id must be a non-empty string, got {stream_id!r}")
    if len(stream_id) > 1000:
        raise InvalidAppendError("stream id is longer than 1000 characters; use a shorter id")
    if not isinstance(expected_version, int) or isinstance(expected_version, bool):
        raise InvalidAppendError(f"expected version must be an int, got {expected_version!r}")
    if expected_version < -1:
        raise InvalidAppendError(
            f"expected version {expected_version} is invalid: use ANY (-1), "
            "NO_STREAM (0) or the version read"
        )
    count = 0
    for event in events:
        count += 1
        if not isinstance(event, Event):
            raise InvalidAppendError(f"{event!r} is not an Event; append domain events only")
    if count > MAX_EVENTS_PER_APPEND:
        raise InvalidAppendError(
            f"{count} events in one append; split it into appends of at most "
            f"{MAX_EVENTS_PER_APPEND}"
        )


RECENTLY_DECODED = 4096
"""Events kept decoded, with the rows they came from, for the next reader of them."""


class RecentlyDecoded:
    """The events a store decoded last, by position. Every new event is read by each
    follower of the log in turn (the dispatcher, the projections, the telemetry, the
    twins), and decoding it (JSON, then the dataclasses) cost each of them more than
    reading it. Events are immutable (the in-memory store hands every reader the same
    objects too), so the first reader's decoding serves the others, as long as the row
    read is the very row decoded: one changed behind the store's back (a damaged or
    rewritten row) is decoded again, and so still named if it is corrupt. Oldest
    forgotten first."""

    def __init__(self, capacity: int = RECENTLY_DECODED) -> None:
        self._capacity = capacity
        self._events: OrderedDict[int, tuple[tuple[Any, ...], RecordedEvent]] = OrderedDict()

    def get(self, row: tuple[Any, ...]) -> RecordedEvent | None:
        """The event decoded before from this row (position first), if any."""
        kept = self._events.get(row[0])
        if kept is None or kept[0] != row:
            return None
        return kept[1]

    def decode(self, row: tuple[Any, ...], codec: EventCodec) -> RecordedEvent:
        """The event of a row of the log (position, stream, version, type, schema
        version, data, metadata), decoded once while it stays recent; a row that does
        not decode is named (``CorruptEventError``) with its stream and position."""
        decoded = self.get(row)
        if decoded is not None:
            return decoded
        position, stream_id, version, type_name, schema_version, data, meta = row
        try:
            event = codec.decode(type_name, schema_version, data)
            metadata = decode_metadata(meta)
        except Exception as exc:
            raise CorruptEventError(stream_id, position, f"{type(exc).__name__}: {exc}") from exc
        decoded = RecordedEvent(stream_id, version, position, event, metadata)
        self.keep(row, decoded)
        return decoded

    def keep(self, row: tuple[Any, ...], recorded: RecordedEvent) -> None:
        self._events[row[0]] = (row, recorded)
        if len(self._events) > self._capacity:
            self._events.popitem(last=False)
