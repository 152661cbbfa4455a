"""A session's chart series: readings parsed as OCPP sends them, bounded, in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chargeledger.domain.meter_series import MeterPoint, meter_point, with_point


def test_a_reading_gives_the_register_and_the_power_in_watt_hours_and_watts() -> None:
    point = meter_point(
        {
            "timestamp": "2026-06-01T10:00:00Z",
            "sampledValue": [
                {"value": "12.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "80", "measurand": "SoC", "unit": "Percent"},
            ],
        }
    )
    assert point == MeterPoint("2026-06-01T10:00:00Z", 12500.0, 7200.0)


def test_a_value_without_measurand_is_the_register_and_phases_are_not_the_total() -> None:
    point = meter_point(
        {
            "timestamp": "t1",
            "sampledValue": [
                {"value": "5", "measurand": "Power.Active.Import", "phase": "L1"},
                {"value": "300"},
            ],
        }
    )
    assert point == MeterPoint("t1", 300.0, None)


def test_readings_that_are_not_numbers_or_carry_nothing_are_no_point() -> None:
    assert meter_point({"timestamp": "t", "sampledValue": [{"value": "NaN"}]}) is None
    assert meter_point({"timestamp": "t", "sampledValue": [{"value": "1e308"}]}) is None
    assert meter_point({"timestamp": "t", "sampledValue": [{"value": "x"}]}) is None
    assert meter_point({"sampledValue": [{"value": "1"}]}) is None
    assert meter_point({"timestamp": "t", "sampledValue": "not a list"}) is None


def test_a_retransmitted_reading_replaces_the_one_it_repeats() -> None:
    first = with_point([], MeterPoint("t1", 1.0, None))
    again = with_point(first, MeterPoint("t1", 1.0, None))
    assert again == [MeterPoint("t1", 1.0, None)]


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=400))
def test_the_series_stays_bounded_ordered_and_keeps_its_first_and_newest_points(
    seconds: list[int],
) -> None:
    series: list[MeterPoint] = []
    for second in seconds:
        series = with_point(series, MeterPoint(f"{second:07d}", float(second), None), 50)
    times = [p.at for p in series]
    assert len(series) <= 50
    assert times == sorted(set(times))
    assert times[0] == f"{min(seconds):07d}"
    assert times[-1] == f"{max(seconds):07d}"
