"""Charging sessions on the station decider, as given / when / then."""

from __future__ import annotations

import pytest

from chargeledger.domain import events as e
from chargeledger.domain.errors import TransactionNotFoundError
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.station import ABANDONED_KEPT, fold
from tests.unit.domain.scenario import (
    READING,
    booted,
    dispatched,
    given,
    meter_values,
    requested,
    start,
    start_transaction,
    started,
    stop_transaction,
    stopped,
    when,
)


def test_a_start_transaction_records_a_session_with_the_allocated_id() -> None:
    assert when(given(booted()), start_transaction(7)) == [started(7)]


def test_the_id_tag_verdict_is_recorded_even_when_it_is_not_accepted() -> None:
    blocked = start_transaction(7, info=IdTagInfo("Blocked"))
    assert when(given(booted()), blocked) == [started(7, status="Blocked")]


def test_a_retransmitted_start_transaction_decides_nothing() -> None:
    """I7: a retransmitted StartTransaction decides nothing: one transaction."""
    assert when(given(booted(), started(7)), start_transaction(8)) == []


def test_a_start_with_another_timestamp_is_a_new_session_that_abandons_the_open_one() -> None:
    later = start_transaction(8, timestamp="2026-01-01T00:05:00Z")
    assert when(given(booted(), started(7)), later) == [
        e.TransactionAbandoned(transaction_id=7, connector_id=1, superseded_by=8),
        started(8, timestamp="2026-01-01T00:05:00Z"),
    ]


def test_sessions_on_two_connectors_stay_open_together() -> None:
    state = fold(given(booted(), started(7, connector=1), started(8, connector=2, tag="B")))
    assert sorted(state.sessions) == [7, 8]


def test_a_session_on_a_connector_held_by_an_accepted_remote_start_is_linked_to_it() -> None:
    history = given(booted(), requested("cmd-1"), dispatched("cmd-1"), e.CommandAccepted("cmd-1"))
    assert when(history, start_transaction(7)) == [started(7, remote_start="cmd-1")]


def test_a_session_starting_before_the_accepted_answer_is_recorded_is_linked_too() -> None:
    history = given(booted(), requested("cmd-1"), dispatched("cmd-1"))
    assert when(history, start_transaction(7)) == [started(7, remote_start="cmd-1")]
    history += [started(7, remote_start="cmd-1"), e.CommandAccepted("cmd-1")]
    assert fold(history).held_connectors == {}  # the late answer holds nothing any more


def test_a_session_of_another_id_tag_is_not_linked_and_frees_the_hold() -> None:
    history = given(booted(), requested("cmd-1"), dispatched("cmd-1"), e.CommandAccepted("cmd-1"))
    assert when(history, start_transaction(7, tag="OTHER")) == [started(7, tag="OTHER")]
    assert fold([*history, started(7, tag="OTHER")]).held_connectors == {}


def test_a_remote_start_not_yet_sent_is_not_linked() -> None:
    assert when(given(booted(), requested("cmd-1")), start_transaction(7)) == [started(7)]


def test_meter_values_within_an_open_transaction_are_recorded() -> None:
    assert when(given(booted(), started(7)), meter_values(7)) == [
        e.MeterValuesRecorded(transaction_id=7, connector_id=1, meter_value=READING)
    ]


def test_meter_values_for_a_transaction_not_open_are_refused() -> None:
    with pytest.raises(TransactionNotFoundError):
        when(given(booted(), started(7), stopped(7)), meter_values(7))


def test_a_stop_transaction_closes_the_session() -> None:
    history = given(booted(), started(7))
    assert when(history, stop_transaction(7)) == [stopped(7)]
    assert fold([*history, stopped(7)]).sessions == {}


def test_a_stop_for_an_unknown_transaction_is_refused() -> None:
    with pytest.raises(TransactionNotFoundError):
        when(given(booted()), stop_transaction(99))


def test_a_late_stop_closes_the_books_of_an_abandoned_session() -> None:
    abandoned = e.TransactionAbandoned(transaction_id=7, connector_id=1, superseded_by=8)
    history = given(booted(), started(7), abandoned, started(8, timestamp="later"))
    decided = when(history, stop_transaction(7))
    assert [type(event) for event in decided] == [e.TransactionStopped]
    assert fold([*history, *decided]).abandoned == ()
    assert list(fold([*history, *decided]).sessions) == [8]


def test_only_the_latest_abandoned_sessions_are_remembered() -> None:
    history: list[e.Event] = [booted()]
    for n in range(ABANDONED_KEPT + 4):
        if n:
            history.append(
                e.TransactionAbandoned(transaction_id=n - 1, connector_id=1, superseded_by=n)
            )
        history.append(started(n, timestamp=f"t{n}"))
    assert len(fold(history).abandoned) == ABANDONED_KEPT


def test_a_stop_without_an_id_tag_records_no_verdict() -> None:
    decided = when(given(booted(), started(7)), stop_transaction(7, tag=None))
    assert isinstance(decided[0], e.TransactionStopped)
    assert decided[0].id_tag_status is None


def test_a_remote_start_after_the_session_ended_is_requested_again() -> None:
    history = given(booted(), started(7), stopped(7))
    assert len(when(history, start("cmd-9", tag="OTHER"))) == 1
