"""``ForwardingEventStore``: an ``EventStore`` that hands every call to the store it
wraps, the base of the wrappers that change one or two of them (``MeasuredEventStore``
times the appends, ``SharedLogReads`` shares the followers' reads), so each states only
what it changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from chargeledger.application.ports import AppendResult, EventStore, Metadata, RecordedEvent
from chargeledger.domain.events import Event


class ForwardingEventStore:
    def __init__(self, inner: EventStore) -> None:
        self.inner = inner

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Mapping[str, Any] | None = None,
    ) -> AppendResult:
        return await self.inner.append(stream_id, events, expected_version, metadata, outcome)

    async def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        return await self.inner.read_stream(stream_id, from_version, to_version)

    async def read_all(self, after_position: int, limit: int = 1000) -> list[RecordedEvent]:
        return await self.inner.read_all(after_position, limit)

    async def head_position(self) -> int:
        return await self.inner.head_position()

    async def find_command(self, stream_id: str, command_id: str) -> AppendResult | None:
        return await self.inner.find_command(stream_id, command_id)

    async def wait_for_events(self, after_position: int, timeout: float) -> None:
        await self.inner.wait_for_events(after_position, timeout)

    def subscribe(
        self, after_position: int, page_size: int = 500, safety_poll_s: float = 1.0
    ) -> AsyncIterator[list[RecordedEvent]]:
        return self.inner.subscribe(after_position, page_size, safety_poll_s)

    async def close(self) -> None:
        await self.inner.close()
