"""Issue 11, items 1 and 2, as given / when / then: the station is the authority on
its physical state. A session it lost in a reboot no longer blocks its connector (it
is kept open as unconfirmed), an operator can close a session by hand, and a remote
start's hold ends when the station gives up waiting for a cable."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest
from hypothesis import given as for_all
from hypothesis import strategies as st

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import (
    ConnectorNotAvailableError,
    ConnectorReservedError,
    IdTagNotAcceptedError,
    TransactionNotFoundError,
)
from chargeledger.domain.remote_start_policy import TwinSnapshot
from chargeledger.domain.station import fold
from tests.unit.domain.operation_scenario import reservation
from tests.unit.domain.scenario import (
    AT,
    booted,
    dispatched,
    given,
    requested,
    start,
    start_transaction,
    started,
    stop_transaction,
    when,
)

BOOT_AT = "2026-01-01T00:00:30+00:00"
SEEN_AT = "2026-01-01T00:00:40+00:00"
BEFORE_BOOT = "2026-01-01T00:00:20+00:00"


def reported(
    booted_at: str | None = BOOT_AT, timeout_s: float = 120.0, **connectors: tuple[str, str]
) -> TwinSnapshot:
    """``reported(c1=("Available", SEEN_AT))``: each connector's status and when we got it."""
    statuses = {int(k[1:]): v[0] for k, v in connectors.items()}
    times = {int(k[1:]): v[1] for k, v in connectors.items()}
    return TwinSnapshot(MappingProxyType(statuses), MappingProxyType(times), booted_at, timeout_s)


LOST = given(booted(), started(7), booted())
"""Session 7 began; then the station booted again (killed, or reset without a stop)."""


def test_a_connector_reported_available_after_a_boot_no_longer_blocks_a_remote_start() -> None:
    decided = when(LOST, start("rs-2", tag="OTHER", snapshot=reported(c1=("Available", SEEN_AT))))
    assert decided[0] == e.TransactionUnconfirmed(
        transaction_id=7,
        connector_id=1,
        reason="the station rebooted and reports connector 1 Available",
    )
    assert isinstance(decided[1], e.RemoteStartRequested)
    state = fold([*LOST, *decided])
    assert state.sessions[7].unconfirmed  # kept open for its StopTransaction


def test_preparing_after_a_boot_frees_the_connector_too() -> None:
    assert when(LOST, start(snapshot=reported(c1=("Preparing", SEEN_AT))))[0].__class__ is (
        e.TransactionUnconfirmed
    )


def test_without_a_boot_since_the_session_began_the_connector_stays_busy() -> None:
    history = given(booted(), started(7))
    with pytest.raises(ConnectorNotAvailableError, match="close it"):
        when(history, start(snapshot=reported(c1=("Available", SEEN_AT))))


def test_a_status_reported_before_the_boot_does_not_count() -> None:
    with pytest.raises(ConnectorNotAvailableError):
        when(LOST, start(snapshot=reported(c1=("Available", BEFORE_BOOT))))


def test_a_charging_connector_after_the_boot_keeps_the_session() -> None:
    with pytest.raises(ConnectorNotAvailableError):
        when(LOST, start(snapshot=reported(c1=("Charging", SEEN_AT))))


def _unconfirmed() -> list[e.Event]:
    snapshot = reported(c1=("Available", SEEN_AT))
    return [*LOST, *when(LOST, start("rs-2", tag="OTHER", snapshot=snapshot))]


def test_the_late_stop_of_an_unconfirmed_session_closes_it() -> None:
    history = _unconfirmed()
    decided = when(history, stop_transaction(7))
    assert [type(x) for x in decided] == [e.TransactionStopped]
    assert 7 not in fold([*history, *decided]).sessions


def test_a_new_start_transaction_on_the_connector_abandons_the_unconfirmed_session() -> None:
    history = _unconfirmed()
    decided = when(history, start_transaction(8, tag="OTHER", timestamp="2026-01-01T00:02:00Z"))
    assert decided[0] == e.TransactionAbandoned(transaction_id=7, connector_id=1, superseded_by=8)


def close(transaction_id: int = 7, reason: str = "station lost it") -> c.CloseTransaction:
    return c.CloseTransaction(
        command_id=f"close-{transaction_id}",
        transaction_id=transaction_id,
        reason=reason,
        closed_at=AT,
    )


def test_an_operator_closes_an_open_session_by_hand_with_a_reason() -> None:
    history = given(booted(), started(7))
    assert when(history, close()) == [
        e.TransactionClosed(
            transaction_id=7, connector_id=1, reason="station lost it", closed_at=AT
        )
    ]
    after = fold([*history, *when(history, close())])
    assert after.sessions == {}
    assert when([*history, *when(history, close())], stop_transaction(7))  # late stop: books


def test_a_session_not_open_cannot_be_closed() -> None:
    with pytest.raises(TransactionNotFoundError):
        when(given(booted()), close(9))


def test_after_a_close_the_connector_takes_a_remote_start() -> None:
    history = given(
        booted(),
        started(7),
        e.TransactionClosed(transaction_id=7, connector_id=1, reason="gone", closed_at=AT),
    )
    assert isinstance(when(history, start(tag="OTHER"))[0], e.RemoteStartRequested)


# --- a remote start's hold --------------------------------------------------------------

ACCEPTED_AT = "2026-01-01T00:00:10+00:00"
HELD = given(
    booted(), requested("rs-1"), dispatched("rs-1"), e.CommandAccepted("rs-1", {}, "", ACCEPTED_AT)
)
SOON = "2026-01-01T00:00:20+00:00"
AFTER_TIMEOUT = "2026-01-01T00:02:11+00:00"


def test_a_hold_refuses_another_tag_while_the_station_waits_for_a_cable() -> None:
    with pytest.raises(ConnectorNotAvailableError, match="held by remote start rs-1"):
        when(HELD, start("rs-2", tag="OTHER", at=SOON, snapshot=reported(c1=("Preparing", SOON))))


def test_the_hold_ends_when_the_station_reports_the_connector_available_again() -> None:
    snapshot = reported(c1=("Available", SOON))
    decided = when(HELD, start("rs-2", tag="OTHER", at=SOON, snapshot=snapshot))
    assert [type(x) for x in decided] == [e.RemoteStartRequested]


def test_an_available_reported_before_the_acceptance_does_not_end_the_hold() -> None:
    snapshot = reported(c1=("Available", AT))
    with pytest.raises(ConnectorNotAvailableError):
        when(HELD, start("rs-2", tag="OTHER", at=SOON, snapshot=snapshot))


def test_the_hold_ends_after_the_stations_connection_timeout() -> None:
    waiting = reported(c1=("Preparing", SOON), timeout_s=120.0)
    assert when(HELD, start("rs-2", tag="OTHER", at=AFTER_TIMEOUT, snapshot=waiting))
    short = replace(waiting, connection_timeout_s=5.0)
    assert when(HELD, start("rs-2", tag="OTHER", at=SOON, snapshot=short))


def test_a_whole_station_reservation_counts_a_lapsed_hold_as_free() -> None:
    history = [*HELD, *reservation("res-1", 0, "RESERVER")]
    snapshot = reported(c1=("Preparing", SOON), c2=("Available", SOON))
    with pytest.raises(ConnectorReservedError):
        when(history, start("rs-2", connector=2, tag="OTHER", at=SOON, snapshot=snapshot))
    lapsed = reported(c1=("Available", SOON), c2=("Available", SOON))
    assert when(history, start("rs-2", connector=2, tag="OTHER", at=SOON, snapshot=lapsed))


@for_all(
    st.sampled_from(["Available", "Preparing", "Charging", "SuspendedEV", "Finishing"]),
    st.booleans(),
    st.booleans(),
)
def test_a_remote_start_over_a_session_is_decided_only_when_the_station_lost_it(
    status: str, rebooted: bool, seen_after_boot: bool
) -> None:
    """Invariant: the connector is given up only when the station both rebooted after
    the session began and reported it free since; never two live sessions' claims."""
    history = LOST if rebooted else given(booted(), started(7))
    snapshot = reported(c1=(status, SEEN_AT if seen_after_boot else BEFORE_BOOT))
    lost = rebooted and seen_after_boot and status in ("Available", "Preparing")
    try:
        decided = when(history, start("rs-2", tag="OTHER", snapshot=snapshot))
    except ConnectorNotAvailableError:
        assert not lost
        return
    assert lost
    assert [type(x) for x in decided] == [e.TransactionUnconfirmed, e.RemoteStartRequested]


# --- a remote start for a tag the registry refuses -----------------------------------


@pytest.mark.parametrize("status", ["Blocked", "Expired", "Invalid", "ConcurrentTx"])
def test_a_remote_start_for_a_tag_the_registry_refuses_is_refused_up_front(status: str) -> None:
    refused = replace(start(), id_tag_status=status)
    with pytest.raises(IdTagNotAcceptedError, match=status):
        when(given(booted()), refused)


def test_the_operator_may_force_a_remote_start_for_a_refused_tag() -> None:
    forced = replace(start(), id_tag_status="Blocked", force=True)
    assert [type(x) for x in when(given(booted()), forced)] == [e.RemoteStartRequested]


def test_an_accepted_or_unweighed_tag_goes() -> None:
    assert when(given(booted()), replace(start(), id_tag_status="Accepted"))
    assert when(given(booted()), start())
