"""Hypothesis drives each store through random appends and reads and compares every
answer with a model a few lines long."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from chargeledger.application.ports import (
    ANY,
    NO_STREAM,
    AppendResult,
    EventStore,
    Metadata,
    VersionConflictError,
)
from chargeledger.domain.events import CommandAccepted
from tests.integration.store.conftest import caught_up
from tests.stores import MemoryEventStore, open_test_stores

STREAMS = st.sampled_from(["a", "b", "c"])
COMMANDS = st.none() | st.sampled_from(["c1", "c2", "c3", "c4"])
EXPECTATIONS = st.sampled_from(["exact", "stale", "ahead", "any", "no-stream"])


@dataclass
class Model:
    """What the store must answer: streams of event ids, and who recorded which command."""

    streams: dict[str, list[str]] = field(default_factory=dict)
    commands: dict[tuple[str, str], int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def expected_version(self, stream: str, expectation: str) -> int:
        current = len(self.streams.get(stream, []))
        return {
            "exact": current,
            "stale": current - 1 if current > 0 else current + 1,
            "ahead": current + 2,
            "any": ANY,
            "no-stream": NO_STREAM,
        }[expectation]


def machine_for(open_store: Any, examples: int) -> type[RuleBasedStateMachine]:
    class StoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.store: EventStore = self.loop.run_until_complete(open_store())
            self.model = Model()
            self.counter = 0

        def run(self, coroutine: Any) -> Any:
            return self.loop.run_until_complete(coroutine)

        @rule(stream=STREAMS, count=st.integers(0, 3), expectation=EXPECTATIONS, command=COMMANDS)
        def append(self, stream: str, count: int, expectation: str, command: str | None) -> None:
            expected = self.model.expected_version(stream, expectation)
            ids = [f"e{self.counter + i}" for i in range(count)]
            self.counter += count
            events = [CommandAccepted(i, {}) for i in ids]
            current = len(self.model.streams.get(stream, []))
            try:
                result: AppendResult | None = self.run(
                    self.store.append(stream, events, expected, Metadata(command_id=command))
                )
            except VersionConflictError as conflict:
                result = None
                assert command is None or (stream, command) not in self.model.commands, (
                    "a repeated command id must be recognised before the version check"
                )
                assert expected not in (ANY, current)
                assert (conflict.stream_id, conflict.expected, conflict.actual) == (
                    stream,
                    expected,
                    current,
                )
            if result is None:
                return
            if command is not None and (stream, command) in self.model.commands:
                assert result.duplicate
                assert result.version == self.model.commands[(stream, command)]
                return
            assert not result.duplicate
            assert expected in (ANY, current)
            self.run(caught_up(self.store, result.last_position))
            self.model.streams.setdefault(stream, []).extend(ids)
            self.model.log.extend(ids)
            assert result.version == len(self.model.streams[stream])
            if command is not None:
                self.model.commands[(stream, command)] = result.version

        @rule(stream=STREAMS, from_version=st.integers(1, 6))
        def read_stream(self, stream: str, from_version: int) -> None:
            recorded = self.run(self.store.read_stream(stream, from_version))
            expected = self.model.streams.get(stream, [])[from_version - 1 :]
            assert [r.event.command_id for r in recorded] == expected  # type: ignore[attr-defined]
            assert [r.version for r in recorded] == list(
                range(from_version, from_version + len(expected))
            )

        @rule(page=st.integers(1, 5))
        def read_all_in_pages(self, page: int) -> None:
            seen: list[str] = []
            position = 0
            while batch := self.run(self.store.read_all(position, page)):
                seen += [r.event.command_id for r in batch]
                position = batch[-1].position
            assert seen == self.model.log
            assert self.run(self.store.head_position()) == position

        @rule(stream=STREAMS, command=st.sampled_from(["c1", "c2", "c3", "c4"]))
        def find_command(self, stream: str, command: str) -> None:
            found = self.run(self.store.find_command(stream, command))
            if (stream, command) in self.model.commands:
                assert found is not None and found.version == self.model.commands[(stream, command)]
            else:
                assert found is None

        @invariant()
        def versions_have_no_gap(self) -> None:
            for stream, ids in self.model.streams.items():
                recorded = self.run(self.store.read_stream(stream))
                assert [r.version for r in recorded] == list(range(1, len(ids) + 1))

        def teardown(self) -> None:
            self.run(self.store.close())
            self.loop.close()

    StoreMachine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    return StoreMachine


async def _memory() -> EventStore:
    return MemoryEventStore()


def test_the_memory_store_behaves_like_the_model() -> None:
    """I1, I2: the in-memory store, under random appends and reads: versions without gap, a
    repeated command id recognised, as the model says."""
    run_state_machine_as_test(machine_for(_memory, 100))


def test_the_sqlite_store_behaves_like_the_model(tmp_path: Path) -> None:
    """I1, I2: the SQLite store, under random appends and reads: versions without gap, a
    repeated command id recognised, as the model says."""

    async def sqlite() -> EventStore:
        path = tempfile.mkdtemp(dir=tmp_path)
        store, _ = await open_test_stores(f"sqlite:///{path}/store.db")
        return store

    run_state_machine_as_test(machine_for(sqlite, 40))


@pytest.mark.postgres
def test_the_postgres_store_behaves_like_the_model(postgres_dsn: str) -> None:
    """I1, I2: the PostgreSQL store, under random appends and reads: versions without gap, a
    repeated command id recognised, as the model says."""

    async def postgres() -> EventStore:
        store, _ = await open_test_stores(postgres_dsn + "?pool_max=2")
        # One database for every example: start each from an empty log.
        async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
            await conn.execute("TRUNCATE events, stream_commands")
        return store

    run_state_machine_as_test(machine_for(postgres, 30))
