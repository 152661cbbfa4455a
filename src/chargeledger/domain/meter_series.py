"""A session's meter readings over time, kept small enough to live in one document.

A station may send a reading every few seconds for hours; the chart of a session
needs its shape, not every point. The series keeps at most ``MAX_POINTS``: when it
is full, every other point of its older half is dropped, so recent readings stay
dense and the whole session keeps its outline, at a cost bounded per session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from chargeledger.domain.charging_sessions import ENERGY_REGISTER

POWER_IMPORT = "Power.Active.Import"
MAX_POINTS = 720


class MeterPoint(NamedTuple):
    """One reading of a session: when, the register (Wh) and the power (W), if sent."""

    at: str
    energy_wh: float | None
    power_w: float | None


def meter_point(meter_value: Mapping[str, Any]) -> MeterPoint | None:
    """The register and power of one OCPP ``MeterValue``, or ``None`` when it carries
    neither (or no time). Phase values are skipped: the total is what a chart shows."""
    at = meter_value.get("timestamp")
    if not isinstance(at, str):
        return None
    energy: float | None = None
    power: float | None = None
    sampled = meter_value.get("sampledValue", meter_value.get("sampled_value")) or []
    for value in sampled if isinstance(sampled, Sequence) else ():
        if not isinstance(value, Mapping) or value.get("phase"):
            continue
        number = _number(value.get("value"))
        if number is None:
            continue
        measurand = value.get("measurand", ENERGY_REGISTER)
        scale = 1000.0 if value.get("unit") in ("kWh", "kW") else 1.0
        # Rounded to a milliwatt-hour: kWh times 1000 must not print as 300.00000000000006.
        if measurand == ENERGY_REGISTER and energy is None:
            energy = round(number * scale, 3)
        elif measurand == POWER_IMPORT and power is None:
            power = round(number * scale, 3)
    if energy is None and power is None:
        return None
    return MeterPoint(at, energy, power)


def with_point(
    series: Sequence[MeterPoint], point: MeterPoint, max_points: int = MAX_POINTS
) -> list[MeterPoint]:
    """``series`` with ``point`` added in time order (a retransmitted reading, same
    time, replaces the one it repeats), thinned to at most ``max_points``."""
    points = [p for p in series if p.at != point.at]
    points.append(point)
    points.sort(key=lambda p: p.at)
    while len(points) > max_points:
        older = len(points) // 2
        points = points[:older:2] + points[older:]
    return points


def _number(text: object) -> float | None:
    if not isinstance(text, str | int | float) or isinstance(text, bool):
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if abs(number) < 1e15 else None
