"""How much power a car draws: the constant-power phase up to a state of charge, then
a taper to the full battery (a lithium-ion battery's constant-current, constant-voltage
charge, as a line), capped by the station, the car and the charging profile."""

from __future__ import annotations

from dataclasses import dataclass

VOLTS_PER_PHASE = 230.0


@dataclass(frozen=True)
class Vehicle:
    battery_wh: float = 60_000.0
    soc_percent: float = 20.0
    max_power_w: float = 11_000.0
    taper_from_percent: float = 80.0


def charging_power_w(
    soc_percent: float,
    vehicle: Vehicle,
    station_max_w: float,
    limit_w: float | None = None,
) -> float:
    """The power drawn at a state of charge: the smallest of the station's, the car's
    and the profile's limits until ``taper_from_percent``, then falling linearly to a
    trickle of 2 % at 100 %, and nothing once full."""
    if soc_percent >= 100.0:
        return 0.0
    ceiling = min(station_max_w, vehicle.max_power_w)
    if limit_w is not None:
        ceiling = min(ceiling, max(limit_w, 0.0))
    if soc_percent > vehicle.taper_from_percent:
        left = (100.0 - soc_percent) / (100.0 - vehicle.taper_from_percent)
        ceiling *= max(left, 0.02)
    return ceiling


def limit_to_watts(limit: float, unit: str, phases: int = 3) -> float:
    """A charging schedule's limit in W: amperes are per phase at 230 V."""
    return limit if unit == "W" else limit * VOLTS_PER_PHASE * phases
