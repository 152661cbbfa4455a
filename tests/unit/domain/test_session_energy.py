"""A session's stop reason and energy, as given / when / then, and the energy's
invariants under hypothesis (issue 11, items 3 and 4)."""

from __future__ import annotations

import itertools
from dataclasses import replace

from hypothesis import given as for_all
from hypothesis import strategies as st

from chargeledger.domain import events as e
from chargeledger.domain.charging_sessions import register_readings, session_energy
from tests.unit.domain.scenario import booted, given, started, stop_transaction, when


def _stop(history: list[e.Event], **changes: object) -> e.TransactionStopped:
    (decided,) = when(history, replace(stop_transaction(7), **changes))  # type: ignore[arg-type]
    assert isinstance(decided, e.TransactionStopped)
    return decided


def test_a_stop_without_a_reason_stopped_for_local() -> None:
    assert _stop(given(booted(), started(7)), reason=None).reason == "Local"


def test_a_stop_with_a_reason_keeps_it() -> None:
    assert _stop(given(booted(), started(7)), reason="EVDisconnected").reason == "EVDisconnected"


def test_a_meter_that_restarted_at_zero_gives_no_negative_energy_and_an_anomaly() -> None:
    stopped = _stop(given(booted(), started(7, meter_start=193)), meter_stop=50)
    assert stopped.energy_wh == 0
    assert stopped.energy_anomaly is not None
    assert "meter_stop 50 is below 193" in stopped.energy_anomaly


def test_only_the_rises_between_the_readings_count() -> None:
    readings = [
        {"timestamp": "t1", "sampledValue": [{"value": "1.5", "unit": "kWh"}]},
        {"timestamp": "t2", "sampledValue": [{"value": "20"}]},
    ]
    stopped = _stop(
        given(booted(), started(7, meter_start=1000)), meter_stop=70, transaction_data=readings
    )
    assert (stopped.energy_wh, stopped.energy_anomaly is not None) == (500 + 50, True)


def test_a_stop_below_the_last_reading_sent_is_an_anomaly() -> None:
    last = {"timestamp": "t1", "sampledValue": [{"value": "3000"}]}
    stopped = _stop(
        given(booted(), started(7, meter_start=1000)), meter_stop=2000, last_reading=last
    )
    assert stopped.energy_wh == 2000
    assert stopped.energy_anomaly is not None


def test_a_plain_session_has_stop_minus_start_and_no_anomaly() -> None:
    stopped = _stop(given(booted(), started(7, meter_start=1000)), meter_stop=4000)
    assert (stopped.energy_wh, stopped.energy_anomaly) == (3000, None)


def test_readings_of_other_measurands_and_phases_are_not_the_register() -> None:
    values = [
        {"value": "7", "measurand": "Power.Active.Import"},
        {"value": "9", "phase": "L1"},
        {"value": "oops"},
        {"value": "11", "measurand": "Energy.Active.Import.Register"},
    ]
    assert register_readings([{"sampled_value": values}]) == [11]


REGISTER = st.integers(0, 10**9)


@for_all(REGISTER, st.lists(REGISTER, max_size=8), REGISTER)
def test_the_energy_is_never_negative_and_never_more_than_the_rises(
    start: int, readings: list[int], stop: int
) -> None:
    energy, anomaly = session_energy(start, readings, stop)
    sequence = [start, *readings, stop]
    rises = sum(max(0, b - a) for a, b in itertools.pairwise(sequence))
    assert energy == rises >= 0
    assert (anomaly is None) == all(b >= a for a, b in itertools.pairwise(sequence))


@for_all(REGISTER, st.lists(st.integers(0, 10**6), max_size=8))
def test_a_register_that_never_goes_down_gives_stop_minus_start(
    start: int, steps: list[int]
) -> None:
    readings = [start + sum(steps[: i + 1]) for i in range(len(steps))]
    stop = readings[-1] if readings else start
    assert session_energy(start, readings, stop) == (stop - start, None)


def test_readings_that_are_no_finite_register_value_are_skipped() -> None:
    """Issue 10, item 8: a StopTransaction whose transactionData held "NaN", "Infinity"
    or "1e400" failed its decision (round() of a non-finite float) and was answered
    InternalError however often the station sent it again; "1e300" made an energy of
    three hundred digits."""
    hostile = ["NaN", "nan", "Infinity", "-inf", "1e400", "1e300", "-1e300"]
    values = [{"value": text} for text in hostile] + [{"value": "12.5", "unit": "kWh"}]
    assert register_readings([{"timestamp": "t", "sampledValue": values}]) == [12500]


def test_a_stop_with_non_finite_readings_is_decided_from_the_others() -> None:
    data = [{"timestamp": "t", "sampledValue": [{"value": "NaN"}, {"value": "Infinity"}]}]
    stopped = _stop(given(booted(), started(7, meter_start=100)), transaction_data=data)
    assert stopped.energy_wh is not None and stopped.energy_wh >= 0
