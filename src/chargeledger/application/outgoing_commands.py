"""The dispatcher's work item: an open station command, read once from where it comes
from (a committed request event, or a command view when a station boots) and typed
from then on."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from chargeledger.application.document_shapes import RoutedCommandView
from chargeledger.application.ports import RecordedEvent
from chargeledger.application.read_model_documents import station_id_of
from chargeledger.domain.enums import CommandStatus
from chargeledger.domain.events import CommandRequested
from chargeledger.domain.operations import name_of

log = logging.getLogger(__name__)

UNREADABLE_LOGGED = 10_000

K = TypeVar("K")


@dataclass(frozen=True)
class OutgoingCommand:
    """An open command to send, or to reconcile if its dispatch is in doubt."""

    command_id: str
    station_id: str
    name: str
    """The command's API name (``remote-start``)."""
    payload: Mapping[str, Any]
    """Its arguments, named as in the API body (the request event's ``payload()``)."""
    status: CommandStatus
    """``REQUESTED`` or ``DISPATCHED``."""
    expires_at: datetime
    position: int
    """Of the last event about it: what the station did since counts as its effect."""
    attempt: int = 0
    """The last dispatch recorded (0: none yet)."""

    @classmethod
    def requested(cls, recorded: RecordedEvent, event: CommandRequested) -> OutgoingCommand:
        """The command a request event opens, just committed."""
        return cls(
            command_id=event.command_id,
            station_id=station_id_of(recorded.stream_id),
            name=name_of(event),
            payload=MappingProxyType(event.payload()),
            status=CommandStatus.REQUESTED,
            expires_at=datetime.fromisoformat(event.expires_at),
            position=recorded.position,
        )

    @classmethod
    def from_view(cls, doc: Mapping[str, Any]) -> OutgoingCommand | None:
        """An open command's view, or ``None`` (logged once) when it lacks what sending
        it reads: one bad view must never keep the others of a station, or of every
        station, from going out or from expiring."""
        try:
            status = CommandStatus(doc["status"])
            fine = (
                all(isinstance(doc.get(k), str) for k in ("command_id", "station_id", "name"))
                and type(doc.get("position")) is int
                and isinstance(doc.get("payload"), dict)
                and status in (CommandStatus.REQUESTED, CommandStatus.DISPATCHED)
            )
            if fine:
                return cls(
                    command_id=doc["command_id"],
                    station_id=doc["station_id"],
                    name=doc["name"],
                    payload=MappingProxyType(doc["payload"]),
                    status=status,
                    expires_at=datetime.fromisoformat(doc["expires_at"]),
                    position=doc["position"],
                    attempt=int(doc.get("attempt", 0)),
                )
        except (KeyError, TypeError, ValueError):
            pass
        _unreadable(doc)
        return None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def as_view(self) -> RoutedCommandView:
        """The fields ``from_view`` reads, as JSON-ready values: how a command crosses
        to another node (a routed command's notice)."""
        return {
            "command_id": self.command_id,
            "station_id": self.station_id,
            "name": self.name,
            "payload": dict(self.payload),
            "status": str(self.status),
            "expires_at": self.expires_at.isoformat(),
            "position": self.position,
            "attempt": self.attempt,
        }


_UNREADABLE: set[str] = set()


def _unreadable(doc: Mapping[str, Any]) -> None:
    key = str(doc.get("command_id"))
    if key not in _UNREADABLE and len(_UNREADABLE) < UNREADABLE_LOGGED:
        _UNREADABLE.add(key)
        log.error("command view %r cannot be read; skipped: %.200r", key, doc)


def ended_key(recorded: RecordedEvent) -> tuple[str, str]:
    """(station, command) of a terminal event: a command id names one per station."""
    command_id: str = getattr(recorded.event, "command_id")  # noqa: B009
    return station_id_of(recorded.stream_id), command_id


class RecentKeys(Generic[K]):
    """Keys remembered in the order they came, the oldest forgotten past ``kept``."""

    def __init__(self, kept: int = 100_000) -> None:
        self._keys: OrderedDict[K, None] = OrderedDict()
        self._kept = kept

    def keep(self, key: K) -> None:
        self._keys[key] = None
        if len(self._keys) > self._kept:
            self._keys.popitem(last=False)

    def forget(self, key: K) -> bool:
        """Forget ``key``; whether it was remembered."""
        return self._keys.pop(key, False) is None

    def __contains__(self, key: object) -> bool:
        return key in self._keys
