"""The command handler: load, decide, append with the loaded version; retry conflicts;
recognise repeated command ids (ARCHITECTURE.md flow 3).

How a command runs:

- Single flight per stream in this process: commands for one station queue in a
  flight and are decided one after another, each on the state the previous one
  left, so a node never races itself.
- The state comes from an in-process cache of recent aggregates. It is checked
  against the stored version by the append itself: every command, a refusal
  included, is recorded with the version it was decided on, so a cache that
  another process made stale fails the append, and the command is re-run on the
  state topped up from the store. No read is spent on the happy path.
- In a cluster the node holding a station writes its dispatches and outcomes, so a
  node deciding a command for a station held elsewhere, or hearing that another node
  wrote to a station held here (``moved``), tops its cached state up with one read
  before deciding, instead of learning it from a failed append, a pause and the
  same read (the version check in the append stays what guards the stream).
- When the store can chain appends (``ChainedAppends``), the commands waiting in a
  flight are recorded together in one transaction (one fsync), all or none: this is
  what lets one hot station take thousands of commands a second. A chain that
  fails is retried one append at a time.
- A version conflict re-runs the whole command on fresh state, at most
  ``max_attempts`` times, sleeping a random time up to ``base_delay_s * 2**attempt``
  (full jitter) before each retry; then ``RetriesExhaustedError`` (HTTP 503).
- A repeated command id is recognised by the store's unique key inside the append:
  nothing new is recorded and the first outcome is returned (its events, or its
  refusal raised again), even if the state changed since.

The values a command passes through on its way (its job, the decision on it, its
result) are ``command_flights``'.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from chargeledger.application import faults
from chargeledger.application.command_flights import CommandResult, Decision, Flight, Job, settle
from chargeledger.application.ports import (
    AppendResult,
    ChainedAppends,
    Clock,
    CommandAlreadyRecordedError,
    CommandAppend,
    EventStore,
    Metadata,
    RecordedEvent,
    VersionConflictError,
)
from chargeledger.domain import station
from chargeledger.domain.commands import Command, OperatorCommand
from chargeledger.domain.errors import DomainError, IdempotencyKeyReusedError
from chargeledger.domain.events import CommandMerged, Event
from chargeledger.errors import ChargeledgerError


class RetriesExhaustedError(ChargeledgerError):
    """Every attempt met a version conflict; the caller may try again shortly."""

    def __init__(self, stream_id: str, attempts: int) -> None:
        super().__init__(
            f"stream {stream_id!r} kept changing during {attempts} attempts; try again"
        )
        self.stream_id = stream_id


def stream_of(station_id: str) -> str:
    return f"station-{station_id}"


def station_of(stream_id: str) -> str:
    return stream_id.removeprefix("station-")


@dataclass
class _Cached:
    state: station.StationState
    version: int


class CommandHandler:
    """Runs station commands. One flight per stream in this process; conflicts with
    other processes are re-run on fresh state, a bounded number of times."""

    def __init__(
        self,
        store: EventStore,
        clock: Clock,
        max_attempts: int = 5,
        base_delay_s: float = 0.002,
        cache_size: int = 10_000,
        max_chain: int = 64,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_size = cache_size
        self._max_chain = max_chain
        self._chains = isinstance(store, ChainedAppends)
        self._flights: dict[str, Flight] = {}
        self._recorded_listeners: list[Callable[[list[RecordedEvent]], None]] = []
        self.conflicts = 0
        self._moved: set[str] = set()
        """Cached streams another process is known to have appended to since."""
        self._held_elsewhere: Callable[[str], bool] | None = None

    def on_recorded(self, listener: Callable[[list[RecordedEvent]], None]) -> None:
        """Call ``listener`` with the events a command of this process recorded, as soon
        as they are committed: before a follower of the log could read them, which on
        PostgreSQL waits for every older transaction on the server to end."""
        self._recorded_listeners.append(listener)

    def held_elsewhere_with(self, held_elsewhere: Callable[[str], bool]) -> None:
        """In a cluster: whether another node holds the station now; the state of such
        a station is topped up from the store before its commands are decided."""
        self._held_elsewhere = held_elsewhere

    def moved(self, station_id: str) -> None:
        """Another process appended to the station's stream: top the cached state up
        before the next command is decided on it."""
        stream_id = stream_of(station_id)
        if stream_id in self._cache:
            self._moved.add(stream_id)

    async def execute(
        self,
        station_id: str,
        command: Command,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        fingerprint: str | None = None,
    ) -> CommandResult:
        """Decide ``command`` on the station and record it; raises ``DomainError`` when
        refused (a repeat of a refused id raises the same refusal; a repeat whose
        ``fingerprint`` differs from the first's, ``IdempotencyKeyReusedError``)."""
        stream_id = stream_of(station_id)
        metadata = Metadata(
            command_id=command.command_id,
            correlation_id=correlation_id or command.command_id,
            causation_id=causation_id,
            recorded_at=self._clock.now().isoformat(),
        )
        job = Job(
            command, metadata, asyncio.get_running_loop().create_future(), fingerprint=fingerprint
        )
        flight = self._flights.get(stream_id)
        if flight is None:
            flight = self._flights[stream_id] = Flight()
        flight.waiting.append(job)
        if flight.task is None:
            flight.task = asyncio.create_task(self._fly(stream_id, flight), name=stream_id)
        # The flight runs the command even if this caller stops waiting for it.
        return await asyncio.shield(job.future)

    async def load(self, stream_id: str) -> tuple[station.StationState, int]:
        """The stream's state, from the cache topped up with what was stored since."""
        self._moved.discard(stream_id)  # a mark made while the read runs stays
        cached = self._cache.get(stream_id)
        state, version = (cached.state, cached.version) if cached else (station.initial_state, 0)
        newer = await self._store.read_stream(stream_id, version + 1)
        if newer:
            state = station.fold((r.event for r in newer), state)
            version = newer[-1].version
        self._remember(stream_id, state, version)
        return state, version

    async def warm(self, station_id: str) -> None:
        """Load the station's state into the cache unless it is there or a command for
        it runs: a caller with another read to make before its command (a boot's look
        at the registry) overlaps the two instead of waiting for one after the other."""
        stream_id = stream_of(station_id)
        if stream_id in self._cache or stream_id in self._flights:
            return
        newer = await self._store.read_stream(stream_id, 1)
        version = newer[-1].version if newer else 0
        cached = self._cache.get(stream_id)
        if cached is None or cached.version < version:  # not what a command left meanwhile
            self._remember(stream_id, station.fold(r.event for r in newer), version)

    async def history(self, station_id: str) -> list[RecordedEvent]:
        return await self._store.read_stream(stream_of(station_id))

    async def _fly(self, stream_id: str, flight: Flight) -> None:
        try:
            while flight.waiting:
                batch = flight.waiting[: self._max_chain]
                del flight.waiting[: len(batch)]
                try:
                    await self._run(stream_id, batch)
                except Exception as unexpected:  # a store failure: fail these, go on
                    for job in batch:
                        settle(job, error=unexpected)
                except BaseException:
                    flight.waiting[:0] = batch
                    raise
        finally:
            for job in flight.waiting:  # only when cancelled at shutdown
                job.future.cancel()
            if self._flights.get(stream_id) is flight:
                del self._flights[stream_id]

    async def _run(self, stream_id: str, jobs: list[Job]) -> None:
        chained = self._chains
        elsewhere = self._held_elsewhere is not None and self._held_elsewhere(station_of(stream_id))
        while jobs:
            cached = self._cache.get(stream_id)
            if cached is None or elsewhere or stream_id in self._moved:
                elsewhere = False  # once per run: its own appends keep the cache
                state, version = await self.load(stream_id)
            else:
                state, version = cached.state, cached.version
            if chained and len(jobs) > 1:
                jobs = await self._record_chain(stream_id, jobs, state, version)
                chained = False  # what is left after a failed chain goes one by one
            else:
                jobs = await self._record_one(stream_id, jobs, state, version)

    def _decide(self, job: Job, state: station.StationState) -> Decision | None:
        try:
            events = station.decide(job.command, state)
        except DomainError as refusal:
            return Decision(job, [], refusal, state)
        except Exception as error:
            settle(job, error=error)
            return None
        same_as = None
        if isinstance(job.command, OperatorCommand):
            merged = [event for event in events if isinstance(event, CommandMerged)]
            if merged:
                same_as = merged[0].merged_into
            elif not events:
                same_as = station.same_request(job.command, state)
        return Decision(job, events, None, station.fold(events, state), same_as)

    async def _record_one(
        self, stream_id: str, jobs: list[Job], state: station.StationState, version: int
    ) -> list[Job]:
        """Record the first job; the jobs still to run."""
        decision = self._decide(jobs[0], state)
        if decision is None:
            return jobs[1:]
        faults.crash_point(f"before-append:{type(decision.job.command).__name__}")
        try:
            appended = await self._store.append(
                stream_id, decision.events, version, decision.job.metadata, decision.outcome
            )
        except VersionConflictError:
            return await self._after_conflict(stream_id, jobs, [decision.job])
        if appended.duplicate:
            await self._answer_repeat(stream_id, decision.job, appended)
        else:
            self._remember(stream_id, decision.state_after, appended.version)
            self._answer(stream_id, decision, appended)
        return jobs[1:]

    async def _record_chain(
        self, stream_id: str, jobs: list[Job], state: station.StationState, version: int
    ) -> list[Job]:
        decisions: list[Decision] = []
        for job in jobs:
            decision = self._decide(job, state)
            if decision is not None:
                decisions.append(decision)
                state = decision.state_after
        if not decisions:
            return []
        appends = [CommandAppend(d.events, d.job.metadata, d.outcome) for d in decisions]
        for decision in decisions:
            faults.crash_point(f"before-append:{type(decision.job.command).__name__}")
        chain = self._store
        assert isinstance(chain, ChainedAppends)
        try:
            results = await chain.append_chain(stream_id, appends, version)
        except VersionConflictError:
            return await self._after_conflict(
                stream_id, [d.job for d in decisions], [d.job for d in decisions]
            )
        except CommandAlreadyRecordedError:
            return [d.job for d in decisions]  # one by one, where a repeat answers itself
        self._remember(stream_id, decisions[-1].state_after, results[-1].version)
        for decision, appended in zip(decisions, results, strict=True):
            self._answer(stream_id, decision, appended)
        return []

    async def _after_conflict(
        self, stream_id: str, jobs: list[Job], conflicted: list[Job]
    ) -> list[Job]:
        """Count the conflict, give up on jobs out of attempts, wait, top up the cache."""
        self.conflicts += 1
        for job in conflicted:
            job.conflicts += 1
            if job.conflicts >= self._max_attempts:
                settle(job, error=RetriesExhaustedError(stream_id, job.conflicts))
        remaining = [job for job in jobs if not job.future.done()]
        attempt = max((job.conflicts for job in conflicted), default=1)
        await asyncio.sleep(random.uniform(0, self._base_delay_s * 2**attempt))
        await self.load(stream_id)
        return remaining

    def _answer(self, stream_id: str, decision: Decision, appended: AppendResult) -> None:
        faults.crash_point(f"after-append:{type(decision.job.command).__name__}")
        if decision.refusal is not None:
            settle(decision.job, error=decision.refusal)
            return
        result = CommandResult(
            stream_id,
            decision.state_after,
            appended.version,
            decision.events,
            appended,
            decision.same_as,
        )
        settle(decision.job, result=result)
        if (
            self._recorded_listeners
            and appended.first_position is not None
            and appended.last_position is not None
            # Positions of one append are consecutive on every store; should one ever
            # not be, the log's followers still see the events, only later.
            and appended.last_position - appended.first_position + 1 == len(decision.events)
        ):
            first_version = appended.version - len(decision.events) + 1
            recorded = [
                RecordedEvent(
                    stream_id,
                    first_version + index,
                    appended.first_position + index,
                    event,
                    decision.job.metadata,
                )
                for index, event in enumerate(decision.events)
            ]
            for listener in self._recorded_listeners:
                listener(recorded)

    async def _answer_repeat(self, stream_id: str, job: Job, first: AppendResult) -> None:
        said = (first.outcome or {}).get("fingerprint")
        if job.fingerprint is not None and said is not None and said != job.fingerprint:
            settle(
                job,
                error=IdempotencyKeyReusedError(
                    f"{job.metadata.command_id!r} already names a request with another body; "
                    "send that body again, or use a new Idempotency-Key"
                ),
            )
            return
        if first.outcome and "error" in first.outcome:
            refusal = DomainError(str(first.outcome.get("detail", "")), code=first.outcome["error"])
            settle(job, error=refusal)
            return
        events = await self._first_events(stream_id, job.metadata.command_id, first)
        state, version = await self.load(stream_id)
        same_as = (first.outcome or {}).get("same_as")
        settle(job, result=CommandResult(stream_id, state, version, events, first, same_as))

    async def _first_events(
        self, stream_id: str, command_id: str | None, first: AppendResult
    ) -> list[Event]:
        """The events the first handling of ``command_id`` recorded (positions rise with
        versions, so they lie within ``last - first`` versions below its version)."""
        if first.first_position is None or first.last_position is None:
            return []
        span = first.last_position - first.first_position
        # Bounded above too: a repeat (a station retransmitting its StartTransaction)
        # must not read every event the stream gained since, which made each repeat
        # cost the length of the stream (found by bench fuzz: 5x slower at 4,000).
        recorded = await self._store.read_stream(
            stream_id, max(1, first.version - span), first.version
        )
        return [
            r.event
            for r in recorded
            if r.version <= first.version
            and r.position >= first.first_position
            and r.metadata.command_id == command_id
        ]

    def _remember(self, stream_id: str, state: station.StationState, version: int) -> None:
        self._cache[stream_id] = _Cached(state, version)
        self._cache.move_to_end(stream_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
