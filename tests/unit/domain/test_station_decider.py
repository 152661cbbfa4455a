"""The station decider's registration and operator commands, as given / when / then."""

from __future__ import annotations

import pytest

from chargeledger.domain import events as e
from chargeledger.domain.enums import UnknownStations
from chargeledger.domain.errors import (
    CommandNotFoundError,
    CommandPendingError,
    ConnectorNotAvailableError,
    InvalidCommandError,
    StationNotRegisteredError,
    TransactionNotFoundError,
    UnknownConnectorError,
)
from chargeledger.domain.station import fold, same_request
from tests.unit.domain.scenario import (
    AFTER_EXPIRY,
    AT,
    LATER,
    availability,
    boot,
    booted,
    dispatch,
    dispatched,
    given,
    outcome,
    remote_stop,
    requested,
    reset,
    start,
    started,
    trigger,
    twin,
    unlock,
    when,
)

# --- registration ------------------------------------------------------------------


def test_a_boot_of_a_registered_station_is_accepted() -> None:
    assert when(given(), boot(known=True, policy=UnknownStations.REJECT)) == [booted("Accepted")]


@pytest.mark.parametrize(
    ("policy", "registration"),
    [(UnknownStations.ACCEPT, "Accepted"), (UnknownStations.REJECT, "Rejected")],
)
def test_a_boot_of_an_unknown_station_follows_the_unknown_station_policy(
    policy: UnknownStations, registration: str
) -> None:
    assert when(given(), boot(known=False, policy=policy)) == [booted(registration)]


def test_an_unheard_of_policy_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        when(given(), boot(known=False, policy="maybe"))  # type: ignore[arg-type]


def test_a_later_boot_replaces_the_registration() -> None:
    assert fold(given(booted("Rejected"), booted("Accepted"))).registration == "Accepted"


def test_a_rejected_station_refuses_every_operator_command() -> None:
    for command in (start(), remote_stop(), unlock(), reset(), availability(), trigger()):
        with pytest.raises(StationNotRegisteredError):
            when(given(booted("Rejected")), command)


def test_a_pending_station_refuses_remote_starts_but_takes_a_reset() -> None:
    with pytest.raises(StationNotRegisteredError):
        when(given(booted("Pending")), start())
    assert len(when(given(booted("Pending")), reset())) == 1


# --- remote start --------------------------------------------------------------------


def test_a_remote_start_on_a_free_connector_is_requested() -> None:
    assert when(given(booted()), start()) == [requested()]


def test_a_remote_start_on_a_never_booted_station_waits_for_its_boot() -> None:
    assert when(given(), start()) == [requested()]


def test_a_connector_reserved_by_a_pending_remote_start_refuses_another_driver() -> None:
    with pytest.raises(ConnectorNotAvailableError):
        when(given(booted(), requested()), start("cmd-2", tag="OTHER"))


def test_the_same_id_tag_asking_again_while_pending_is_the_same_request() -> None:
    history = given(booted(), requested())
    assert when(history, start("cmd-2")) == [e.CommandMerged("cmd-2", "cmd-1")]
    assert same_request(start("cmd-2"), fold(history)) == "cmd-1"


def test_another_connector_stays_free() -> None:
    assert when(given(booted(), requested()), start("cmd-2", connector=2, tag="X")) == [
        requested("cmd-2", 2, "X")
    ]


def test_an_accepted_remote_start_holds_its_connector_until_the_session_starts() -> None:
    history = given(booted(), requested(), dispatched(), e.CommandAccepted("cmd-1"))
    with pytest.raises(ConnectorNotAvailableError):
        when(history, start("cmd-2", tag="OTHER"))
    assert when(history, start("cmd-2")) == [e.CommandMerged("cmd-2", "cmd-1")]  # the same request
    assert when([*history, started(remote_start="cmd-1")], start("cmd-3", tag="OTHER", connector=2))


def test_an_accepted_hold_lapses_when_the_remote_start_would_have_expired() -> None:
    history = given(booted(), requested(), dispatched(), e.CommandAccepted("cmd-1"))
    assert when(history, start("cmd-2", tag="OTHER", at=AFTER_EXPIRY)) == [
        e.RemoteStartRequested(
            command_id="cmd-2",
            requested_at=AFTER_EXPIRY,
            expires_at=LATER,
            connector_id=1,
            id_tag="OTHER",
        )
    ]


@pytest.mark.parametrize("ending", ["rejected", "timed_out", "failed"])
def test_a_remote_start_that_ended_otherwise_frees_its_connector(ending: str) -> None:
    history = given(booted(), requested(), dispatched())
    history += when(history, outcome(ending))
    assert when(history, start("cmd-2", tag="OTHER")) == [requested("cmd-2", tag="OTHER")]


def test_a_charging_connector_refuses_a_remote_start() -> None:
    with pytest.raises(ConnectorNotAvailableError, match="transaction 7"):
        when(given(booted(), started(7)), start("cmd-2", tag="OTHER"))


@pytest.mark.parametrize("status", ["Faulted", "Unavailable"])
def test_the_twin_showing_the_connector_out_of_service_refuses_a_remote_start(
    status: str,
) -> None:
    with pytest.raises(ConnectorNotAvailableError, match=status):
        when(given(booted()), start(snapshot=twin(c1=status, c2="Available")))


def test_the_twin_showing_the_whole_station_unavailable_refuses_a_remote_start() -> None:
    with pytest.raises(ConnectorNotAvailableError, match="the station"):
        when(given(booted()), start(snapshot=twin(c0="Unavailable", c1="Available")))


def test_a_connector_above_those_the_station_reported_is_unknown() -> None:
    with pytest.raises(UnknownConnectorError, match="up to 2"):
        when(given(booted()), start(connector=3, snapshot=twin(c1="Available", c2="Available")))


def test_connector_zero_is_no_connector_to_start_on() -> None:
    with pytest.raises(UnknownConnectorError):
        when(given(booted()), start(connector=0))


def test_a_preparing_connector_takes_a_remote_start() -> None:
    assert when(given(booted()), start(snapshot=twin(c1="Preparing"))) == [requested()]


# --- the other operator commands -------------------------------------------------------


def test_a_remote_stop_of_an_open_transaction_is_requested() -> None:
    assert when(given(booted(), started(7)), remote_stop()) == [
        e.RemoteStopRequested(
            command_id="stop-1", requested_at=AT, expires_at=LATER, transaction_id=7
        )
    ]


def test_a_remote_stop_of_a_transaction_never_heard_of_is_sent_for_the_station_to_answer() -> None:
    (decided,) = when(given(booted()), remote_stop(transaction_id=99))
    assert decided == e.RemoteStopRequested(
        command_id="stop-1", requested_at=AT, expires_at=LATER, transaction_id=99
    )


def test_a_remote_stop_of_a_stopped_transaction_is_refused() -> None:
    from tests.unit.domain.scenario import stopped

    with pytest.raises(TransactionNotFoundError):
        when(given(booted(), started(7), stopped(7)), remote_stop())


def test_a_second_remote_stop_for_the_same_transaction_is_the_same_request() -> None:
    history = given(booted(), started(7))
    history += when(history, remote_stop("stop-1"))
    assert when(history, remote_stop("stop-2")) == [e.CommandMerged("stop-2", "stop-1")]


def test_unlock_connector_is_requested_and_checks_the_connector() -> None:
    assert when(given(booted()), unlock()) == [
        e.UnlockConnectorRequested(
            command_id="unlock-1", requested_at=AT, expires_at=LATER, connector_id=1
        )
    ]
    with pytest.raises(UnknownConnectorError):
        when(given(booted()), unlock(connector=4, snapshot=twin(c1="Available")))


def test_a_reset_is_requested_soft_or_hard() -> None:
    assert when(given(booted()), reset(kind="Hard")) == [
        e.ResetRequested(command_id="reset-1", requested_at=AT, expires_at=LATER, reset_type="Hard")
    ]
    with pytest.raises(InvalidCommandError):
        when(given(booted()), reset(kind="Gentle"))


def test_a_reset_of_another_type_while_one_is_pending_is_refused() -> None:
    history = given(booted())
    history += when(history, reset("reset-1", "Soft"))
    assert when(history, reset("reset-2", "Soft")) == [e.CommandMerged("reset-2", "reset-1")]
    with pytest.raises(CommandPendingError, match="reset-1"):
        when(history, reset("reset-2", "Hard"))


def test_availability_changes_per_connector_or_for_the_whole_station() -> None:
    whole = when(given(booted()), availability(connector=0, snapshot=twin(c1="Available")))
    assert whole == [
        e.AvailabilityChangeRequested(
            command_id="avail-1",
            requested_at=AT,
            expires_at=LATER,
            connector_id=0,
            availability_type="Inoperative",
        )
    ]
    with pytest.raises(UnknownConnectorError):
        when(given(booted()), availability(connector=2, snapshot=twin(c1="Available")))
    with pytest.raises(InvalidCommandError):
        when(given(booted()), availability(kind="Broken"))


def test_opposite_availability_changes_for_one_connector_do_not_overlap() -> None:
    history = given(booted())
    history += when(history, availability("avail-1", connector=1, kind="Inoperative"))
    with pytest.raises(CommandPendingError):
        when(history, availability("avail-2", connector=1, kind="Operative"))
    assert when(history, availability("avail-3", connector=2, kind="Operative"))


def test_a_change_of_the_whole_station_s_availability_and_a_connector_s_wait_for_each_other() -> (
    None
):
    """Connector 0 is the station (OCPP 1.6 §5.2): a station-wide change pending with
    a connector's would leave the connector's end state to the order the station takes
    them in."""
    connector_first = given(booted())
    connector_first += when(connector_first, availability("avail-1", connector=1))
    with pytest.raises(CommandPendingError, match="avail-1"):
        when(connector_first, availability("avail-2", connector=0, kind="Operative"))
    station_first = given(booted())
    station_first += when(station_first, availability("avail-1", connector=0))
    with pytest.raises(CommandPendingError, match="avail-1"):
        when(station_first, availability("avail-2", connector=2, kind="Operative"))


def test_trigger_message_is_requested_for_a_known_message() -> None:
    assert when(given(booted()), trigger(connector=1)) == [
        e.TriggerMessageRequested(
            command_id="trigger-1",
            requested_at=AT,
            expires_at=LATER,
            requested_message="StatusNotification",
            connector_id=1,
        )
    ]
    with pytest.raises(InvalidCommandError):
        when(given(booted()), trigger(message="StartTransaction"))


def test_different_triggers_may_be_pending_together_but_an_identical_one_is_the_same() -> None:
    history = given(booted())
    history += when(history, trigger("t-1", "Heartbeat"))
    assert when(history, trigger("t-2", "Heartbeat")) == [e.CommandMerged("t-2", "t-1")]
    assert len(when(history, trigger("t-3", "StatusNotification"))) == 1


# --- dispatch and outcomes -------------------------------------------------------------


def test_a_requested_command_is_dispatched_once() -> None:
    """I4: a requested command is dispatched once; a repeat of the dispatch decides nothing."""
    history = given(booted(), requested())
    assert when(history, dispatch()) == [dispatched()]
    history.append(dispatched())
    assert when(history, dispatch()) == []


def test_an_ended_command_is_never_dispatched() -> None:
    """I4: an ended command is never dispatched."""
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
    history = given(booted(), requested(), dispatched())
    assert when(history, outcome(kind)) == [event]


def test_a_second_outcome_for_an_ended_command_is_refused() -> None:
    """I4: a command ends in exactly one terminal event: a second outcome is refused."""
    history = given(booted(), requested(), e.CommandAccepted("cmd-1"))
    with pytest.raises(CommandNotFoundError):
        when(history, outcome("rejected"))


def test_expiry_ends_a_command_never_sent() -> None:
    assert when(given(booted(), requested()), outcome("expired")) == [e.CommandExpired("cmd-1")]


def test_expiry_does_not_end_a_command_already_sent() -> None:
    """I4: expiry never ends a command already sent: its answer decides."""
    history = given(booted(), requested(), dispatched())
    assert when(history, outcome("expired")) == []


def test_an_unheard_of_outcome_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        when(given(booted(), requested()), outcome("maybe"))
