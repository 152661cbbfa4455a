"""Random command sequences through the handler on a real SQLite file: folding the events
the handler decided equals replaying what the store holds, command ids repeat freely,
and no sequence breaks the station's invariants."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargeledger.application.command_handler import CommandHandler
from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import DomainError
from chargeledger.domain.station import fold
from tests.fakes import FakeClock
from tests.stores import open_test_stores
from tests.unit.domain.strategies import check_invariants, numbered, station_commands

# Each step: a command, and which of a few ids it goes under (so ids repeat).
steps = st.lists(st.tuples(station_commands, st.integers(0, 5), st.booleans()), max_size=25)


async def run_through_handler(path: Path, plan: list[tuple[c.Command, int, bool]]) -> None:
    store, _ = await open_test_stores(f"sqlite:///{path}")
    handler = CommandHandler(store, FakeClock())
    decided: list[e.Event] = []
    first_answers: dict[str, list[e.Event] | str] = {}
    try:
        commands = numbered([command for command, _, _ in plan], [0])
        for command, (_, id_choice, reuse) in zip(commands, plan, strict=True):
            if reuse:  # the same command id again, whatever the command
                command = replace(command, command_id=f"again-{id_choice}")
            try:
                result = await handler.execute("CP1", command)
            except DomainError as refusal:
                answer: list[e.Event] | str = refusal.code
                assert first_answers.setdefault(command.command_id, answer) == answer
                continue
            if result.duplicate:
                assert result.events == first_answers[command.command_id]
                continue
            first_answers[command.command_id] = result.events
            decided += result.events
            check_invariants(result.state, decided)
        replayed = [r.event for r in await store.read_stream("station-CP1")]
        assert replayed == decided
        assert fold(replayed) == fold(decided) == (await handler.load("station-CP1"))[0]
    finally:
        await store.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps)
def test_folding_decided_events_equals_replaying_the_store(
    plan: list[tuple[c.Command, int, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run_through_handler(Path(folder) / "replay.db", plan))
