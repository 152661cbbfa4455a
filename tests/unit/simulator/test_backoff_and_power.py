"""Reconnect delays spread out and bounded; the power a car draws follows a charging
curve and every limit on it."""

from __future__ import annotations

import itertools
import random

from chargeledger.simulator.backoff import Backoff
from chargeledger.simulator.power import Vehicle, charging_power_w, limit_to_watts


def test_each_reconnect_delay_is_drawn_from_a_window_that_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(1))
    windows = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    for window in windows:
        assert 0.0 <= backoff.next_delay() <= window


def test_delays_are_jittered_so_a_fleet_cut_off_at_once_does_not_return_at_once() -> None:
    delays = [Backoff(base_s=1.0, cap_s=30.0, rng=random.Random(n)) for n in range(50)]
    for backoff in delays:
        for _ in range(3):
            backoff.next_delay()
    fourth = {round(b.next_delay(), 3) for b in delays}
    assert len(fourth) > 40


def test_a_connection_that_booted_resets_the_window() -> None:
    backoff = Backoff(base_s=1.0, cap_s=30.0, rng=random.Random(2))
    for _ in range(10):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_power_is_the_smallest_limit_until_the_taper_then_falls_to_nothing_when_full() -> None:
    car = Vehicle(battery_wh=50_000, soc_percent=20, max_power_w=7_400, taper_from_percent=80)
    assert charging_power_w(20, car, station_max_w=22_000) == 7_400
    assert charging_power_w(50, car, station_max_w=3_700) == 3_700
    assert charging_power_w(50, car, station_max_w=22_000, limit_w=2_000) == 2_000
    assert charging_power_w(90, car, station_max_w=22_000) == 7_400 * 0.5
    assert 0 < charging_power_w(99.99, car, station_max_w=22_000) < 7_400 * 0.05
    assert charging_power_w(100, car, station_max_w=22_000) == 0.0


def test_power_never_rises_as_the_battery_fills() -> None:
    car = Vehicle()
    powers = [charging_power_w(soc / 2, car, 11_000) for soc in range(0, 201)]
    assert all(a >= b for a, b in itertools.pairwise(powers))


def test_a_schedule_in_amperes_is_per_phase_at_230_volts() -> None:
    assert limit_to_watts(16, "A") == 16 * 230 * 3
    assert limit_to_watts(16, "A", phases=1) == 16 * 230
    assert limit_to_watts(7000, "W") == 7000
