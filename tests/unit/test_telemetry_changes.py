"""The trail of changed twins the console's stream follows (telemetry_changes)."""

from __future__ import annotations

import asyncio

from chargeledger.application.telemetry_changes import MANY, TelemetryChanges


def test_a_follower_hears_each_changed_station_once_since_its_mark() -> None:
    changes = TelemetryChanges()
    start = changes.mark()
    for station in ("A", "B", "A", "C"):
        changes.touched(station)
    mark, stations = changes.since(start)
    assert mark == start + 4
    assert stations is not None and sorted(stations) == ["A", "B", "C"]
    assert changes.since(mark) == (mark, [])


def test_one_too_far_behind_or_too_many_changes_hear_all() -> None:
    changes = TelemetryChanges(kept=3)
    for station in ("A", "B", "C", "D"):
        changes.touched(station)
    assert changes.since(0) == (4, None)  # the first change fell off the trail
    assert changes.since(1) == (4, ["B", "C", "D"])
    many = TelemetryChanges()
    for number in range(MANY + 1):
        many.touched(f"S{number}")
    assert many.since(0) == (MANY + 1, None)


async def test_a_wait_ends_at_the_next_change_or_its_timeout() -> None:
    changes = TelemetryChanges()
    mark = changes.mark()
    waiting = asyncio.create_task(changes.wait(mark, 5))
    await asyncio.sleep(0)
    changes.touched("A")
    await asyncio.wait_for(waiting, 1)
    await changes.wait(mark, 0.01)  # already past the mark: at once
    await changes.wait(changes.mark(), 0.01)  # nothing new: the timeout
