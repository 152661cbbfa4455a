"""Issue 11 items 1 and 10, given / when / then: a remote stop is refused only for a
transaction the CSMS knows the station does not run (it ended here, or it runs on
another station). A transaction id the CSMS has never heard of is sent: a station
that started a session offline has not reported it yet, and its answer decides."""

from __future__ import annotations

import pytest

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import TransactionNotFoundError
from chargeledger.domain.station import fold
from chargeledger.domain.station_state import ENDED_SESSIONS_KEPT
from tests.unit.domain.scenario import (
    AT,
    booted,
    given,
    remote_stop,
    start_transaction,
    started,
    stop_transaction,
    stopped,
    when,
)

CLOSED_AT = "2026-01-01T00:30:00Z"


def recorded(
    status: str = "open",
    station_id: str = "CP1",
    ended_at: str | None = None,
    because: str | None = None,
) -> c.RecordedTransaction:
    return c.RecordedTransaction(
        station_id=station_id,
        on_this_station=station_id == "CP1",
        status=status,
        ended_at=ended_at,
        ended_because=because,
    )


def refusal(history: list[e.Event], command: c.RequestRemoteStop) -> str:
    with pytest.raises(TransactionNotFoundError) as refused:
        when(history, command)
    return refused.value.detail


def test_a_transaction_the_csms_never_heard_of_is_sent() -> None:
    (decided,) = when(given(booted()), remote_stop(transaction_id=4242))
    assert isinstance(decided, e.RemoteStopRequested)
    assert decided.transaction_id == 4242


def test_a_transaction_recorded_open_here_but_not_in_this_log_is_sent() -> None:
    (decided,) = when(given(booted()), remote_stop(transaction_id=8, recorded=recorded("open")))
    assert isinstance(decided, e.RemoteStopRequested)


def test_an_unconfirmed_session_is_sent_as_the_station_may_still_run_it() -> None:
    history = given(
        booted(),
        started(7),
        e.TransactionUnconfirmed(transaction_id=7, connector_id=1, reason="rebooted"),
    )
    assert [type(event) for event in when(history, remote_stop())] == [e.RemoteStopRequested]


def test_a_stopped_transaction_is_refused_with_how_and_when() -> None:
    detail = refusal(given(booted(), started(7), stopped(7)), remote_stop())
    assert "transaction 7 is stopped since 2026-01-01T01:00:00Z" in detail
    assert "stop reason Local" in detail


def test_a_session_closed_by_hand_is_refused_with_the_operators_reason() -> None:
    closed = e.TransactionClosed(
        transaction_id=7, connector_id=1, reason="station lost it", closed_at=CLOSED_AT
    )
    detail = refusal(given(booted(), started(7), closed), remote_stop())
    assert f"closed since {CLOSED_AT}" in detail
    assert "station lost it" in detail


def test_a_session_another_took_the_connector_from_is_refused() -> None:
    history = given(booted(), started(7))
    history += when(history, start_transaction(8, connector=1, tag="NEXT"))  # no stop of 7
    detail = refusal(history, remote_stop())
    assert "transaction 7 is abandoned" in detail
    assert "transaction 8 took its connector" in detail


def test_a_late_stop_after_a_close_is_what_a_refusal_reports() -> None:
    closed = e.TransactionClosed(transaction_id=7, connector_id=1, reason="gone", closed_at=AT)
    history = given(booted(), started(7), closed)
    history += when(history, stop_transaction(7))
    assert "transaction 7 is stopped" in refusal(history, remote_stop())


def test_a_transaction_of_another_station_is_refused_naming_it() -> None:
    detail = refusal(given(booted()), remote_stop(recorded=recorded(station_id="CP2")))
    assert "runs on station CP2" in detail


def test_a_transaction_that_ended_before_the_log_remembers_is_refused_from_its_record() -> None:
    record = recorded("stopped", ended_at="2025-12-01T10:00:00Z", because="stop reason Remote")
    detail = refusal(given(booted()), remote_stop(recorded=record))
    assert "is stopped since 2025-12-01T10:00:00Z (stop reason Remote)" in detail


def test_the_log_wins_over_a_record_that_trails_it() -> None:
    stale = recorded("stopped", ended_at="2025-12-01T10:00:00Z")
    history = given(booted(), started(7))
    assert [type(event) for event in when(history, remote_stop(recorded=stale))] == [
        e.RemoteStopRequested
    ]


def test_the_memory_of_ended_sessions_is_bounded() -> None:
    history = given(booted())
    for transaction_id in range(1, ENDED_SESSIONS_KEPT + 11):
        history += [started(transaction_id), stopped(transaction_id)]
    remembered = fold(history).ended_sessions
    assert len(remembered) == ENDED_SESSIONS_KEPT
    assert 1 not in remembered and ENDED_SESSIONS_KEPT + 10 in remembered
    (forgotten,) = when(history, remote_stop(transaction_id=1))  # its record would refuse it
    assert isinstance(forgotten, e.RemoteStopRequested)
