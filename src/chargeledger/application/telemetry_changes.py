"""Which stations' twins changed, for those who follow telemetry live (the console's
event stream): a numbered trail of recent changes and a wait for the next one.

Telemetry stays out of the log (I5); this trail is in memory only. A follower keeps
the mark it has seen; one that fell further behind than the trail reaches is told
that everything may have changed."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

KEPT = 10_000
"""Changes remembered; a follower further behind than this hears "all"."""
MANY = 200
"""More changed stations than this are reported as "all", not one by one."""


class TelemetryChanges:
    def __init__(self, kept: int = KEPT) -> None:
        self._mark = 0
        self._trail: deque[tuple[int, str]] = deque(maxlen=kept)
        self._next = asyncio.Event()

    def mark(self) -> int:
        """The newest change's number: a follower starts from here."""
        return self._mark

    def touched(self, station_id: str) -> None:
        self._mark += 1
        self._trail.append((self._mark, station_id))
        woken, self._next = self._next, asyncio.Event()
        woken.set()

    def since(self, mark: int) -> tuple[int, list[str] | None]:
        """The newest mark and the stations changed after ``mark``, in order of their
        first change; ``None`` for "all" (too far behind, or too many to list)."""
        if mark >= self._mark:
            return self._mark, []
        if not self._trail or self._trail[0][0] > mark + 1:
            return self._mark, None
        changed: dict[str, None] = {}
        for number, station_id in reversed(self._trail):
            if number <= mark:
                break
            changed[station_id] = None
            if len(changed) > MANY:
                return self._mark, None
        return self._mark, list(reversed(changed))

    async def wait(self, mark: int, timeout_s: float) -> None:
        """Until a change after ``mark``, or ``timeout_s``."""
        if self._mark > mark:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._next.wait(), timeout_s)
