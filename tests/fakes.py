"""Fakes for our own ports (they subclass or implement the real ports; no mocks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chargeledger.application.ports import ANY, AppendResult, Metadata
from chargeledger.application.registry import RegistrationPolicy
from chargeledger.domain.enums import UnknownStations
from chargeledger.domain.events import Event, StationBooted
from tests.stores import MemoryEventStore

OPEN_REGISTRATION = RegistrationPolicy(None, UnknownStations.ACCEPT)
"""No registry: every station is known and accepted."""


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class RacingEventStore(MemoryEventStore):
    """Before each of the next ``races`` appends, another writer appends to the same
    stream first, so the caller's expected version is stale: a real conflict."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races
        self.appends_tried = 0

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Mapping[str, Any] | None = None,
    ) -> AppendResult:
        self.appends_tried += 1
        if self.races > 0 and events:
            self.races -= 1
            rival = StationBooted("x", "Accepted", "rival", "writer", None, "t")
            await super().append(stream_id, [rival], ANY, Metadata())
        return await super().append(stream_id, events, expected_version, metadata, outcome)
