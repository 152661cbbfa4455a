"""What a pending reset holds (issue 17): an OCPP 2.0.1 reset of one EVSE holds that
EVSE, a reset of the whole station holds the whole station. Given the resets pending,
when another is requested, then it opens, merges into an identical one, or is refused."""

from __future__ import annotations

import pytest
from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import CommandPendingError
from chargeledger.domain.station import decide, fold
from tests.unit.domain.operation_scenario import common
from tests.unit.domain.scenario import booted, given, when


def reset(command_id: str, evse_id: int | None = None, kind: str = "Soft") -> c.RequestReset:
    return c.RequestReset(reset_type=kind, evse_id=evse_id, **common(command_id))


def pending(*resets: c.RequestReset) -> list[e.Event]:
    history = given(booted())
    for command in resets:
        history += when(history, command)
    return history


def test_resets_of_two_evses_may_be_pending_at_once() -> None:
    history = pending(reset("r-1", evse_id=1))
    [opened] = when(history, reset("r-2", evse_id=2, kind="Hard"))
    assert isinstance(opened, e.ResetRequested)
    assert opened.payload() == {"type": "Hard", "evse_id": 2}


def test_a_reset_of_the_station_waits_for_a_pending_reset_of_any_evse() -> None:
    history = pending(reset("r-1", evse_id=1), reset("r-2", evse_id=2))
    with pytest.raises(CommandPendingError, match="r-1"):
        when(history, reset("r-3"))


def test_a_reset_of_one_evse_waits_for_a_pending_reset_of_the_station() -> None:
    history = pending(reset("r-1"))
    with pytest.raises(CommandPendingError, match="r-1"):
        when(history, reset("r-2", evse_id=2))


def test_evse_0_is_the_whole_station() -> None:
    history = pending(reset("r-1", evse_id=0))
    with pytest.raises(CommandPendingError, match="r-1"):
        when(history, reset("r-2", evse_id=1))


def test_the_same_reset_of_an_evse_again_is_the_same_request_another_type_is_refused() -> None:
    history = pending(reset("r-1", evse_id=1), reset("r-2", evse_id=2))
    assert when(history, reset("r-3", evse_id=2)) == [e.CommandMerged("r-3", "r-2")]
    with pytest.raises(CommandPendingError, match="r-1"):
        when(history, reset("r-3", evse_id=1, kind="Hard"))


def test_once_the_evse_resets_are_answered_the_station_may_be_reset() -> None:
    history = pending(reset("r-1", evse_id=1), reset("r-2", evse_id=2))
    history += [e.CommandAccepted("r-1"), e.CommandRejected("r-2")]
    [opened] = when(history, reset("r-3", kind="Hard"))
    assert opened.payload() == {"type": "Hard"}


# The model: a pending reset holds its EVSE, or all of them when it names none (or 0).
EVSES = st.sampled_from([None, 0, 1, 2, 3])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("reset"), EVSES, st.sampled_from(["Soft", "Hard"])),
        st.tuples(st.just("answer"), st.integers(0, 5), st.none()),
    ),
    max_size=25,
)


def _held(evse_id: int | None) -> int | None:
    return None if evse_id in (None, 0) else evse_id


@settings(max_examples=300, deadline=None)
@for_all(STEPS)
def test_a_reset_opens_exactly_when_no_pending_reset_overlaps_it(
    steps: list[tuple[str, int | None, str | None]],
) -> None:
    history = given(booted())
    model: dict[str, tuple[int | None, str]] = {}  # open command id: (evse_id, type)
    for number, (step, value, kind) in enumerate(steps):
        if step == "answer":
            if model:
                command_id = sorted(model)[(value or 0) % len(model)]
                history.append(e.CommandAccepted(command_id))
                del model[command_id]
            continue
        assert kind is not None
        wanted, command_id = _held(value), f"r-{number}"
        overlapping = [
            (held_id, held)
            for held_id, held in model.items()
            if wanted is None or _held(held[0]) is None or _held(held[0]) == wanted
        ]
        try:
            decided = decide(reset(command_id, value, kind), fold(history))
        except CommandPendingError:
            assert overlapping and all(held != (value, kind) for _, held in overlapping)
            continue
        if overlapping:  # the very reset again: merged into the one pending
            [(held_id, held)] = overlapping
            assert held == (value, kind)
            assert decided == [e.CommandMerged(command_id, held_id)]
        else:
            [opened] = decided
            assert isinstance(opened, e.ResetRequested)
            model[command_id] = (value, kind)
        history += decided
    held = [_held(evse_id) for evse_id, _ in model.values()]
    assert None not in held or len(held) == 1  # the station's reset pends alone
    assert len(set(held)) == len(held)  # one reset per EVSE
