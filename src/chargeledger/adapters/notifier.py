"""Coalescing wake-ups for subscribers, and the catch-up-then-live loop built on them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from chargeledger.application.ports import EventStore, RecordedEvent


class HeadNotifier:
    """Holds the highest known head position and wakes every waiter once it moves."""

    def __init__(self) -> None:
        self._head = 0
        self._moved = asyncio.Event()
        self._awaited = False
        """Whether a waiter holds ``_moved``: only then is a new one worth making."""

    @property
    def head(self) -> int:
        return self._head

    def advance(self, position: int) -> None:
        """Note that the log reached ``position``; ``0`` means "moved, somewhere"."""
        if 0 < position <= self._head:
            return  # old news (our own append echoed back by NOTIFY, say)
        self._head = max(self._head, position)
        # Waiters re-read the log themselves, so even a wake-up without a known
        # position (another process wrote) is worth giving.
        if self._awaited:
            self._moved.set()
            self._moved = asyncio.Event()
            self._awaited = False

    async def wait(self, after_position: int, timeout: float) -> None:
        if self._head > after_position:
            return
        moved = self._moved
        self._awaited = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(moved.wait(), timeout)


async def follow(
    store: EventStore, after_position: int, page_size: int = 500, safety_poll_s: float = 1.0
) -> AsyncIterator[list[RecordedEvent]]:
    """``EventStore.subscribe`` for every store: read pages until caught up, then sleep
    until a wake-up (one per burst, however many appends it holds) or the safety poll."""
    position = after_position
    while True:
        page = await store.read_all(position, page_size)
        if page:
            position = page[-1].position
            yield page
            continue
        await store.wait_for_events(position, safety_poll_s)
