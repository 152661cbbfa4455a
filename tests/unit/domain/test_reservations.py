"""Reservations on the station decider, as given / when / then (domain/reservations.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import (
    CommandPendingError,
    ConnectorReservedError,
    ExpiryInThePastError,
    StationNotRegisteredError,
    UnknownConnectorError,
)
from chargeledger.domain.station import fold, same_request
from tests.unit.domain.operation_scenario import (
    PAST_UNTIL,
    UNTIL,
    cancel,
    confirmed,
    ended,
    reservation,
    reserve,
    reserve_requested,
)
from tests.unit.domain.scenario import (
    AT,
    booted,
    dispatched,
    given,
    outcome,
    start,
    start_transaction,
    started,
    twin,
    when,
)

TWO_FREE = twin(c1="Available", c2="Available")


def test_a_reservation_is_requested_for_its_connector_and_id_tag() -> None:
    assert when(given(booted()), reserve()) == [reserve_requested()]


@pytest.mark.parametrize("until", ["2025-12-31T23:00:00+00:00", AT, "2026-01-01T00:00:00Z"])
def test_a_reservation_whose_expiry_is_not_after_now_is_refused(until: str) -> None:
    with pytest.raises(ExpiryInThePastError, match="not after now"):
        when(given(booted()), reserve(until=until))


def test_a_pending_station_takes_no_reservation() -> None:
    with pytest.raises(StationNotRegisteredError):
        when(given(booted("Pending")), reserve())


def test_a_connector_the_station_does_not_have_cannot_be_reserved() -> None:
    with pytest.raises(UnknownConnectorError):
        when(given(booted()), reserve(connector=3, snapshot=TWO_FREE))


def test_the_stations_accepted_confirms_the_reservation() -> None:
    history = given(booted(), reserve_requested(), dispatched("res-1"))
    accepted = c.RecordOutcome("res-1:accepted", "res-1", "accepted", {"status": "Accepted"})
    assert when(history, accepted) == [
        e.CommandAccepted("res-1", {"status": "Accepted"}),
        confirmed(),
    ]


def test_a_refusal_by_the_station_ends_the_reservation_with_its_answer() -> None:
    history = given(booted(), reserve_requested(), dispatched("res-1"))
    refused = c.RecordOutcome("res-1:rejected", "res-1", "rejected", {"status": "Occupied"})
    assert when(history, refused) == [
        e.CommandRejected("res-1", {"status": "Occupied"}),
        ended("rejected", detail="the station answered Occupied"),
    ]


def test_no_answer_ends_the_reservation_as_failed() -> None:
    history = given(booted(), reserve_requested(), dispatched("res-1"))
    decided = when(history, outcome("timed_out", "res-1"))
    assert decided[1] == ended("failed", detail="reserve-now ended timed_out")
    assert fold([*history, *decided]).reservations == {}


def test_a_remote_start_of_another_id_tag_on_a_reserved_connector_is_refused() -> None:
    with pytest.raises(ConnectorReservedError, match=r"reserved .*reservation 1"):
        when(given(booted(), *reservation()), start(tag="OTHER"))


def test_the_reserving_id_tag_may_start_on_its_connector() -> None:
    assert when(given(booted(), *reservation()), start(tag="TAG")) != []


def test_a_requested_reservation_already_holds_its_connector() -> None:
    with pytest.raises(ConnectorReservedError):
        when(given(booted(), reserve_requested()), start(tag="OTHER"))


def test_another_connector_stays_free() -> None:
    assert when(given(booted(), *reservation()), start(connector=2, tag="OTHER")) != []


def test_a_reservation_of_another_id_tag_on_a_reserved_connector_is_refused() -> None:
    with pytest.raises(ConnectorReservedError):
        when(given(booted(), *reservation()), reserve("res-2", tag="OTHER", reservation_id=2))


def test_an_expired_reservation_refuses_nothing() -> None:
    later = replace(start(tag="OTHER"), requested_at=PAST_UNTIL)
    assert when(given(booted(), *reservation()), later) != []


def test_the_same_id_tag_reserving_again_changes_its_reservation() -> None:
    again = reserve("res-2", until="2026-01-01T03:00:00+00:00", reservation_id=9)
    assert when(given(booted(), *reservation()), again) == [
        reserve_requested("res-2", until="2026-01-01T03:00:00+00:00", replaces=True)
    ]


def test_a_change_the_station_refuses_leaves_the_reservation_as_it_was() -> None:
    history = given(
        booted(),
        *reservation(),
        reserve_requested("res-2", until="2026-01-01T03:00:00+00:00", replaces=True),
        dispatched("res-2"),
    )
    refused = c.RecordOutcome("res-2:rejected", "res-2", "rejected", {"status": "Rejected"})
    decided = when(history, refused)
    assert decided[1] == e.ReservationChangeRefused(reservation_id=1, refused_by="res-2")
    kept = fold([*history, *decided]).reservations[1]
    assert (kept.expiry_date, kept.confirmed, kept.changing_by) == (UNTIL, True, None)


def test_a_change_the_station_accepts_moves_the_expiry() -> None:
    later = "2026-01-01T03:00:00+00:00"
    history = given(
        booted(), *reservation(), reserve_requested("res-2", until=later, replaces=True)
    )
    decided = when(history, c.RecordOutcome("res-2:accepted", "res-2", "accepted"))
    assert decided[1] == confirmed("res-2", until=later)
    assert fold([*history, *decided]).reservations[1].expiry_date == later


def test_while_a_reservation_is_on_its_way_the_same_request_is_that_request() -> None:
    history = given(booted(), reserve_requested())
    assert when(history, reserve("res-2", reservation_id=2)) == [e.CommandMerged("res-2", "res-1")]
    assert same_request(reserve("res-2", reservation_id=2), fold(history)) == "res-1"
    with pytest.raises(CommandPendingError):
        when(history, reserve("res-3", until="2026-01-01T03:00:00+00:00", reservation_id=3))


# --- the whole station ----------------------------------------------------------------


def test_a_whole_station_reservation_leaves_other_tags_the_other_connectors() -> None:
    history = given(booted(), *reservation(connector=0))
    assert when(history, start(tag="OTHER", snapshot=TWO_FREE)) != []


def test_a_whole_station_reservation_keeps_the_last_free_connector_for_its_tag() -> None:
    history = given(booted(), *reservation(connector=0), started(connector=2, tag="SOMEONE"))
    with pytest.raises(ConnectorReservedError, match="reserved as a whole"):
        when(history, start(tag="OTHER", snapshot=TWO_FREE))
    assert when(history, start(tag="TAG", snapshot=TWO_FREE)) != []


def test_without_known_connectors_a_whole_station_reservation_refuses_other_tags() -> None:
    with pytest.raises(ConnectorReservedError):
        when(given(booted(), *reservation(connector=0)), start(tag="OTHER"))


def test_a_second_whole_station_reservation_needs_a_connector_left_for_each() -> None:
    history = given(booted(), *reservation(connector=0))
    second = reserve("res-2", connector=0, tag="OTHER", reservation_id=2, snapshot=TWO_FREE)
    assert when(history, second) != []
    third = reserve("res-3", connector=0, tag="THIRD", reservation_id=3, snapshot=TWO_FREE)
    with pytest.raises(ConnectorReservedError):
        when(given(*history, *reservation("res-2", 0, "OTHER", reservation_id=2)), third)


# --- cancel, use, expiry -----------------------------------------------------------------


def test_cancelling_a_reservation_not_yet_confirmed_waits_for_its_outcome() -> None:
    with pytest.raises(CommandPendingError, match="not confirmed yet"):
        when(given(booted(), reserve_requested()), cancel())


def test_the_stations_accepted_to_a_cancel_ends_the_reservation() -> None:
    history = given(booted(), *reservation())
    requested = when(history, cancel())
    assert requested == [
        e.CancelReservationRequested(
            command_id="cancel-1", requested_at=AT, expires_at=cancel().expires_at, reservation_id=1
        )
    ]
    decided = when(
        [*history, *requested], c.RecordOutcome("cancel-1:accepted", "cancel-1", "accepted")
    )
    assert decided[1] == ended("cancelled", detail="cancelled by cancel-1")
    assert fold([*history, *requested, *decided]).reservations == {}


def test_a_start_transaction_naming_the_reservation_uses_it() -> None:
    history = given(booted(), *reservation())
    decided = when(history, replace(start_transaction(tag="TAG"), reservation_id=1))
    assert decided[-1] == ended(
        "used", transaction_id=7, detail="used by transaction 7 on connector 1"
    )
    assert fold([*history, *decided]).reservations == {}


def test_the_reserving_tag_starting_on_its_connector_uses_the_reservation() -> None:
    history = given(booted(), *reservation(connector=0))
    decided = when(history, start_transaction(connector=2, tag="TAG"))
    assert isinstance(decided[-1], e.ReservationEnded) and decided[-1].reason == "used"
    assert not any(
        isinstance(event, e.ReservationEnded)
        for event in when(history, start_transaction(tag="OTHER"))
    )


def test_a_reservation_ends_at_its_expiry_date() -> None:
    history = given(booted(), *reservation())
    assert when(history, c.ExpireReservation("x-1", 1, UNTIL)) == [
        ended("expired", detail=f"expired at {UNTIL}")
    ]
    assert when(history, c.ExpireReservation("x-2", 1, "2026-01-01T01:59:59+00:00")) == []
    assert when(given(booted()), c.ExpireReservation("x-3", 1, PAST_UNTIL)) == []


def test_a_reservation_the_station_reports_ended_ends_here_whatever_its_expiry() -> None:
    """OCPP 2.0.1 ReservationStatusUpdate: Removed cancels it, Expired expires it."""
    history = given(booted(), *reservation())
    removed = c.EndReservationAsReported(command_id="r-1", reservation_id=1, status="Removed")
    expired = c.EndReservationAsReported(command_id="r-2", reservation_id=1, status="Expired")
    assert when(history, removed) == [ended("cancelled", detail="the station reports it removed")]
    assert when(history, expired) == [ended("expired", detail="the station reports it expired")]
    gone = given(*history, ended("cancelled"))
    assert when(gone, removed) == []  # a repeat, or one no longer held, decides nothing


def test_a_reserve_now_still_waiting_expires_with_its_reservation() -> None:
    decided = when(given(booted(), reserve_requested()), c.ExpireReservation("x-1", 1, PAST_UNTIL))
    assert decided[0].reason == "expired"  # type: ignore[attr-defined]
    assert isinstance(decided[1], e.CommandExpired) and decided[1].command_id == "res-1"


def test_an_outcome_after_the_reservation_ended_decides_only_the_outcome() -> None:
    history = given(booted(), reserve_requested(), dispatched("res-1"), ended("expired"))
    assert when(history, c.RecordOutcome("res-1:accepted", "res-1", "accepted")) == [
        e.CommandAccepted("res-1")
    ]
