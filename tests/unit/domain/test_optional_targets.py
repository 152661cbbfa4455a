"""Issue 11 item 10, given / when / then: what OCPP 1.6 leaves optional stays optional.
A remote start may leave the connector to the station; a command naming a connector
or reservation we have not heard of is sent, and refused only when the station told
us it has no such thing (its NumberOfConnectors, or the connectors it reported)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chargeledger.domain import events as e
from chargeledger.domain.errors import ReservationNotFoundError, UnknownConnectorError
from chargeledger.domain.station import fold
from tests.unit.domain.operation_scenario import cancel, ended
from tests.unit.domain.scenario import (
    booted,
    dispatched,
    given,
    outcome,
    requested,
    start,
    start_transaction,
    started,
    twin,
    unlock,
    when,
)


def test_a_remote_start_without_a_connector_is_requested_without_one() -> None:
    command = replace(start(), connector_id=None)
    assert when(given(booted()), command) == [requested(connector=None)]


def test_a_remote_start_without_a_connector_is_not_held_up_by_a_busy_connector() -> None:
    history = given(booted(), started(7, connector=1, tag="OTHER"))
    command = replace(
        start(tag="TAG", snapshot=twin(c1="Charging", c2="Available")), connector_id=None
    )
    assert [type(event) for event in when(history, command)] == [e.RemoteStartRequested]


def test_the_session_after_a_connector_less_remote_start_is_linked_to_it() -> None:
    sent = given(booted(), requested(connector=None), dispatched())
    history = [*sent, *when(sent, outcome("accepted"))]
    assert "TAG" in fold(history).picked_by_station
    (session,) = when(history, start_transaction(7, connector=2, tag="TAG"))
    assert isinstance(session, e.TransactionStarted)
    assert session.remote_start_command_id == "cmd-1"
    assert fold([*history, session]).picked_by_station == {}


def test_a_cancel_of_a_reservation_we_never_made_is_sent() -> None:
    (decided,) = when(given(booted()), cancel(reservation_id=4242))
    assert isinstance(decided, e.CancelReservationRequested)
    assert decided.reservation_id == 4242


def test_a_connector_the_station_has_not_reported_yet_is_sent() -> None:
    (decided,) = when(
        given(booted()), unlock(connector=2, snapshot=twin(c1="Available", c3="Available"))
    )
    assert isinstance(decided, e.UnlockConnectorRequested)


def test_number_of_connectors_says_which_connectors_exist() -> None:
    four = replace(twin(c1="Available"), number_of_connectors=4)
    (decided,) = when(given(booted()), unlock(connector=3, snapshot=four))
    assert isinstance(decided, e.UnlockConnectorRequested)
    with pytest.raises(UnknownConnectorError, match="NumberOfConnectors 4"):
        when(given(booted()), unlock(connector=5, snapshot=four))


def test_a_cancel_of_a_reservation_that_ended_here_is_refused() -> None:
    history = given(booted(), ended("cancelled", reservation_id=4242))
    with pytest.raises(ReservationNotFoundError, match="has ended"):
        when(history, cancel(reservation_id=4242))


def test_two_connector_less_remote_starts_for_two_tags_both_go() -> None:
    history = given(booted(), requested(connector=None, tag="ONE"))
    second = replace(start("cmd-2", tag="TWO"), connector_id=None)
    assert [type(event) for event in when(history, second)] == [e.RemoteStartRequested]
