"""The station decider as given / when / then."""

from __future__ import annotations

import pytest

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import (
    CommandNotFoundError,
    ConnectorNotAvailableError,
    StationNotRegisteredError,
)
from chargeledger.domain.station import decide, fold

AT = "2026-01-01T00:00:00+00:00"
LATER = "2026-01-01T00:10:00+00:00"


def given(*events: e.Event) -> list[e.Event]:
    return list(events)


def when(history: list[e.Event], command: c.Command) -> list[e.Event]:
    return decide(command, fold(history))


def booted(registration: str = "Accepted") -> e.StationBooted:
    return e.StationBooted("CP1", registration, "v", "m", None, AT)


def start(command_id: str = "cmd-1", connector: int = 1, tag: str = "TAG") -> c.RequestRemoteStart:
    return c.RequestRemoteStart(command_id, connector, tag, AT, LATER)


def requested(command_id: str = "cmd-1", connector: int = 1, tag: str = "TAG") -> e.Event:
    return e.RemoteStartRequested(command_id, connector, tag, AT, LATER)


def dispatch(target: str = "cmd-1") -> c.MarkDispatched:
    return c.MarkDispatched(f"{target}:dispatch:1", target, 1, 7, AT)


def outcome(kind: str, target: str = "cmd-1") -> c.RecordOutcome:
    return c.RecordOutcome(f"{target}:{kind}", target, kind)


def test_a_boot_registers_the_station() -> None:
    command = c.RegisterBoot("b1", "CP1", "Accepted", "v", "m", None, AT)
    assert when(given(), command) == [booted()]


def test_a_remote_start_on_a_free_connector_is_requested() -> None:
    assert when(given(booted()), start()) == [requested()]


def test_a_remote_start_on_a_never_booted_station_waits_for_its_boot() -> None:
    assert when(given(), start()) == [requested()]


def test_a_rejected_station_refuses_remote_starts() -> None:
    with pytest.raises(StationNotRegisteredError):
        when(given(booted("Rejected")), start())


def test_a_connector_reserved_by_a_pending_remote_start_refuses_another_driver() -> None:
    with pytest.raises(ConnectorNotAvailableError):
        when(given(booted(), requested()), start("cmd-2", tag="OTHER"))


def test_the_same_id_tag_asking_again_while_pending_decides_nothing() -> None:
    assert when(given(booted(), requested()), start("cmd-2")) == []


def test_another_connector_stays_free() -> None:
    assert when(given(booted(), requested()), start("cmd-2", connector=2, tag="X")) == [
        requested("cmd-2", 2, "X")
    ]


def test_a_requested_command_is_dispatched_once() -> None:
    history = given(booted(), requested())
    assert when(history, dispatch()) == [e.CommandDispatched("cmd-1", 1, 7, AT)]
    history.append(e.CommandDispatched("cmd-1", 1, 7, AT))
    assert when(history, dispatch()) == []


def test_an_ended_command_is_never_dispatched() -> None:
    history = given(booted(), requested(), e.CommandExpired("cmd-1", "ttl"))
    assert when(history, dispatch()) == []


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        ("accepted", e.CommandAccepted("cmd-1")),
        ("rejected", e.CommandRejected("cmd-1")),
        ("timed_out", e.CommandTimedOut("cmd-1")),
        ("failed", e.CommandFailed("cmd-1")),
    ],
)
def test_the_station_answer_closes_the_command(kind: str, event: e.Event) -> None:
    history = given(booted(), requested(), e.CommandDispatched("cmd-1", 1, 7, AT))
    assert when(history, outcome(kind)) == [event]


def test_a_second_outcome_for_an_ended_command_is_refused() -> None:
    history = given(booted(), requested(), e.CommandAccepted("cmd-1"))
    with pytest.raises(CommandNotFoundError):
        when(history, outcome("rejected"))


def test_expiry_does_not_end_a_command_already_sent() -> None:
    history = given(booted(), requested(), e.CommandDispatched("cmd-1", 1, 7, AT))
    assert when(history, outcome("expired")) == []


def test_a_command_that_ended_frees_its_connector() -> None:
    history = given(booted(), requested(), e.CommandRejected("cmd-1"))
    assert when(history, start("cmd-2", tag="OTHER")) == [requested("cmd-2", tag="OTHER")]
