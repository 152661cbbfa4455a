"""Coalescing wake-ups for subscribers: many appends, one wake-up per waiter."""

from __future__ import annotations

import asyncio
import contextlib


class HeadNotifier:
    """Holds the highest known head position and wakes every waiter once it moves."""

    def __init__(self) -> None:
        self._head = 0
        self._moved = asyncio.Event()

    @property
    def head(self) -> int:
        return self._head

    def advance(self, position: int) -> None:
        if position > self._head:
            self._head = position
        # Waiters re-read the log themselves, so even a wake-up without a known
        # position (another process wrote) is worth giving.
        self._moved.set()
        self._moved = asyncio.Event()

    async def wait(self, after_position: int, timeout: float) -> None:
        if self._head > after_position:
            return
        moved = self._moved
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(moved.wait(), timeout)
