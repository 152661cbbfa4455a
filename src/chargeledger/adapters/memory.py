"""In-memory ``EventStore`` and ``DocumentStore``: fakes for unit tests, never for serving.

They keep the same contract as the real stores (the contract suite runs on them
too), so a unit test that passes on them means something.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from chargeledger.adapters.notifier import HeadNotifier, follow
from chargeledger.adapters.serialization import EventCodec, check_append, dumps, encode_outcome
from chargeledger.application.ports import (
    ANY,
    AppendResult,
    Clock,
    CommandAlreadyRecordedError,
    CommandAppend,
    DocumentPage,
    DocumentWrite,
    Metadata,
    RecordedEvent,
    VersionConflictError,
)
from chargeledger.domain.events import Event


class InMemoryEventStore:
    def __init__(self, codec: EventCodec, clock: Clock) -> None:
        """``clock`` stamps ``recorded_at`` on metadata that arrives without one."""
        self._codec = codec
        self._clock = clock
        self.log: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._commands: dict[tuple[str, str], AppendResult] = {}
        self._notifier = HeadNotifier()

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Mapping[str, Any] | None = None,
    ) -> AppendResult:
        check_append(stream_id, expected_version, events)
        for event in events:
            self._codec.encode(event)  # refuse what a real store could not store
        encode_outcome(outcome)
        if metadata.recorded_at is None:
            metadata = dataclasses.replace(metadata, recorded_at=self._clock.now().isoformat())
        await asyncio.sleep(0)  # a real store yields here; let races interleave
        return self._append_now(stream_id, events, expected_version, metadata, outcome)

    def _append_now(
        self,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Mapping[str, Any] | None = None,
    ) -> AppendResult:
        if metadata.command_id is not None:
            first = self._commands.get((stream_id, metadata.command_id))
            if first is not None:
                return first
        stream = self._streams.setdefault(stream_id, [])
        current = len(stream)
        if expected_version != ANY and expected_version != current:
            raise VersionConflictError(stream_id, expected_version, current)
        recorded = [
            RecordedEvent(stream_id, current + i + 1, len(self.log) + i + 1, event, metadata)
            for i, event in enumerate(events)
        ]
        stream.extend(recorded)
        self.log.extend(recorded)
        result = AppendResult(
            stream_id,
            len(stream),
            recorded[0].position if recorded else None,
            recorded[-1].position if recorded else None,
            False,
            outcome,
        )
        if metadata.command_id is not None:
            self._commands[(stream_id, metadata.command_id)] = AppendResult(
                result.stream_id,
                result.version,
                result.first_position,
                result.last_position,
                True,
                outcome,
            )
        if recorded:
            self._notifier.advance(recorded[-1].position)
        return result

    async def append_chain(
        self, stream_id: str, appends: Sequence[CommandAppend], expected_version: int
    ) -> list[AppendResult]:
        await asyncio.sleep(0)
        current = len(self._streams.get(stream_id, []))
        if current != expected_version:
            raise VersionConflictError(stream_id, expected_version, current)
        for append in appends:
            command_id = append.metadata.command_id
            if command_id is not None and (stream_id, command_id) in self._commands:
                raise CommandAlreadyRecordedError(stream_id, command_id)
        return [
            self._append_now(stream_id, append.events, ANY, append.metadata, append.outcome)
            for append in appends
        ]

    async def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        return list(self._streams.get(stream_id, [])[max(from_version, 1) - 1 : to_version])

    async def read_all(self, after_position: int, limit: int = 1000) -> list[RecordedEvent]:
        start = max(after_position, 0)
        return self.log[start : start + limit]

    async def head_position(self) -> int:
        return len(self.log)

    async def find_command(self, stream_id: str, command_id: str) -> AppendResult | None:
        return self._commands.get((stream_id, command_id))

    async def wait_for_events(self, after_position: int, timeout: float) -> None:
        await self._notifier.wait(after_position, timeout)

    def subscribe(
        self, after_position: int, page_size: int = 500, safety_poll_s: float = 1.0
    ) -> AsyncIterator[list[RecordedEvent]]:
        return follow(self, after_position, page_size, safety_poll_s)

    async def close(self) -> None:
        return None


class InMemoryDocumentStore:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], tuple[dict[str, Any], str | None]] = {}
        self.checkpoints: dict[str, int] = {}
        self.sequences: dict[str, int] = {}

    async def get(self, model: str, key: str) -> dict[str, Any] | None:
        found = self.docs.get((model, key))
        return None if found is None else copy.deepcopy(found[0])

    async def list(self, model: str, tag: str | None = None) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(doc)
            for (m, _), (doc, t) in sorted(self.docs.items())
            if m == model and (tag is None or t == tag)
        ]

    async def page(
        self,
        model: str,
        *,
        limit: int,
        tag: str | None = None,
        after: str | None = None,
        descending: bool = False,
    ) -> DocumentPage:
        found = sorted(
            (key, doc)
            for (m, key), (doc, t) in self.docs.items()
            if m == model
            and (tag is None or t == tag)
            and (after is None or (key < after if descending else key > after))
        )
        if descending:
            found.reverse()
        return [(key, copy.deepcopy(doc)) for key, doc in found[: max(0, limit)]]

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        # All or nothing, and only what JSON can hold, as in the real stores.
        stored = [None if w.doc is None else json.loads(dumps(dict(w.doc))) for w in writes]
        for write, doc in zip(writes, stored, strict=True):
            if doc is None:
                self.docs.pop((write.model, write.key), None)
            else:
                self.docs[(write.model, write.key)] = (doc, write.tag)

    async def checkpoint(self, name: str) -> int:
        return self.checkpoints.get(name, 0)

    async def commit_batch(self, name: str, position: int, writes: Sequence[DocumentWrite]) -> None:
        await self.write(writes)
        self.checkpoints[name] = position

    async def forget(self, models: Sequence[str], checkpoint_name: str) -> int:
        doomed = [key for key in self.docs if key[0] in models]
        for key in doomed:
            del self.docs[key]
        self.checkpoints[checkpoint_name] = 0
        return len(doomed)

    async def next_in_sequence(self, name: str) -> int:
        self.sequences[name] = self.sequences.get(name, 0) + 1
        return self.sequences[name]
