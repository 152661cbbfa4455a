"""Random command sequences never break the station's invariants, and the state is
always the fold of the events decided so far."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import DomainError
from chargeledger.domain.station import decide, evolve, fold, initial_state
from tests.unit.domain.strategies import check_invariants, numbered, station_commands


@settings(max_examples=300, deadline=None)
@given(st.lists(station_commands, max_size=40))
def test_no_command_sequence_breaks_the_invariants(commands: list[c.Command]) -> None:
    """I4: whatever the command sequence, each command ends at most once and nothing is dispatched
    after its end."""
    state = initial_state
    history: list[e.Event] = []
    for command in numbered(commands, [0]):
        try:
            decided = decide(command, state)
        except DomainError:
            continue
        for event in decided:
            state = evolve(state, event)
        history += decided
        check_invariants(state, history)
    assert fold(history) == state


@settings(max_examples=200, deadline=None)
@given(st.lists(station_commands, max_size=30))
def test_a_decision_that_decides_nothing_changes_nothing(commands: list[c.Command]) -> None:
    state = initial_state
    for command in numbered(commands, [0]):
        try:
            decided = decide(command, state)
        except DomainError:
            continue
        after = fold(decided, state)
        if not decided:
            assert after == state
        state = after
