"""The command bus: load, decide, append with the loaded version; retry conflicts;
recognise repeated command ids (ARCHITECTURE.md flow 3)."""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from chargeledger.application import faults
from chargeledger.application.ports import (
    AppendResult,
    Clock,
    EventStore,
    Metadata,
    RecordedEvent,
    VersionConflictError,
)
from chargeledger.domain import station
from chargeledger.domain.commands import Command
from chargeledger.domain.errors import DomainError
from chargeledger.domain.events import Event


class RetriesExhaustedError(Exception):
    """Every attempt met a version conflict; the caller may try again shortly."""

    def __init__(self, stream_id: str, attempts: int) -> None:
        super().__init__(
            f"stream {stream_id!r} kept changing during {attempts} attempts; try again"
        )
        self.stream_id = stream_id


@dataclass(frozen=True)
class CommandResult:
    stream_id: str
    state: station.StationState
    version: int
    events: list[Event] = field(default_factory=list)
    append: AppendResult | None = None

    @property
    def duplicate(self) -> bool:
        return self.append is not None and self.append.duplicate

    @property
    def position(self) -> int | None:
        return None if self.append is None else self.append.last_position


def stream_of(station_id: str) -> str:
    return f"station-{station_id}"


@dataclass
class _Cached:
    state: station.StationState
    version: int


class CommandBus:
    """Runs station commands. One flight per stream in this process; conflicts with
    other processes are re-run on fresh state, a bounded number of times."""

    def __init__(
        self,
        store: EventStore,
        clock: Clock,
        max_attempts: int = 5,
        base_delay_s: float = 0.002,
        cache_size: int = 10_000,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_size = cache_size
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self.conflicts = 0

    async def execute(
        self,
        station_id: str,
        command: Command,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> CommandResult:
        """Decide ``command`` on the station and record it; raises ``DomainError`` when
        refused (a repeat of a refused id raises the same refusal)."""
        stream_id = stream_of(station_id)
        metadata = Metadata(
            command_id=command.command_id,
            correlation_id=correlation_id or command.command_id,
            causation_id=causation_id,
            recorded_at=self._clock.now().isoformat(),
        )
        with self._single_flight(stream_id) as lock:
            async with lock:
                first = await self._store.find_command(stream_id, command.command_id)
                if first is not None:
                    return await self._repeat(stream_id, first)
                for attempt in range(self._max_attempts):
                    state, version = await self.load(stream_id)
                    try:
                        events = station.decide(command, state)
                    except DomainError as refusal:
                        outcome = {"error": refusal.code, "detail": refusal.detail}
                        recorded = await self._store.append(
                            stream_id, [], version, metadata, outcome
                        )
                        if recorded.duplicate:
                            return await self._repeat(stream_id, recorded)
                        raise
                    faults.crash_point(f"before-append:{type(command).__name__}")
                    try:
                        appended = await self._store.append(stream_id, events, version, metadata)
                    except VersionConflictError:
                        self.conflicts += 1
                        self._cache.pop(stream_id, None)
                        await asyncio.sleep(random.uniform(0, self._base_delay_s * 2**attempt))
                        continue
                    if appended.duplicate:
                        return await self._repeat(stream_id, appended)
                    faults.crash_point(f"after-append:{type(command).__name__}")
                    new_state = station.fold(events, state)
                    self._remember(stream_id, new_state, appended.version)
                    return CommandResult(stream_id, new_state, appended.version, events, appended)
                raise RetriesExhaustedError(stream_id, self._max_attempts)

    async def load(self, stream_id: str) -> tuple[station.StationState, int]:
        """The stream's state, from the cache topped up with what was stored since."""
        cached = self._cache.get(stream_id)
        state, version = (cached.state, cached.version) if cached else (station.initial_state, 0)
        newer = await self._store.read_stream(stream_id, version + 1)
        if newer:
            state = station.fold((r.event for r in newer), state)
            version = newer[-1].version
        self._remember(stream_id, state, version)
        return state, version

    async def history(self, station_id: str) -> list[RecordedEvent]:
        return await self._store.read_stream(stream_of(station_id))

    async def _repeat(self, stream_id: str, first: AppendResult) -> CommandResult:
        if first.outcome and "error" in first.outcome:
            raise DomainError(str(first.outcome.get("detail", "")), code=first.outcome["error"])
        state, version = await self.load(stream_id)
        return CommandResult(stream_id, state, version, [], first)

    def _remember(self, stream_id: str, state: station.StationState, version: int) -> None:
        self._cache[stream_id] = _Cached(state, version)
        self._cache.move_to_end(stream_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    @contextmanager
    def _single_flight(self, stream_id: str) -> Iterator[asyncio.Lock]:
        lock, users = self._locks.get(stream_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[stream_id] = (lock, users + 1)
        try:
            yield lock
        finally:
            lock, users = self._locks[stream_id]
            if users <= 1:
                del self._locks[stream_id]
            else:
                self._locks[stream_id] = (lock, users - 1)
