"""One reader of the log for the followers of a node (dispatcher, projections,
telemetry): a wake-up sets them all reading the same new events at once, and each
sent its own ``read_all`` and decoded (or looked up) every event again. Here the
followers at the head share one query per wake-up, and the events it returned stay in
a window of the log's tail that serves the followers a little behind without a query.

Each follower still keeps its own checkpoint: it asks for the events after its own
position and gets them in order, with none skipped:

- The window holds every event in (``start``, ``end``]: it is built only from pages
  that ``read_all`` returned whole from a position, and a page of ``read_all`` holds
  every event between that position and its last one (no earlier-positioned event can
  still join it). A follower whose position is inside gets the events after it from
  the window (possibly not the newest: it comes back for the rest from ``end``).
- A follower at ``end`` joins the next shared query, which starts after it asked, so
  an empty answer says what a query of its own would have said.
- A follower behind the window (starting, rebuilding) or ahead of it reads on its own;
  one ahead moves the window up to where it read, so the others join it there once
  they catch up.
"""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass, field

from chargeledger.application.forwarding_store import ForwardingEventStore
from chargeledger.application.ports import EventStore, RecordedEvent

WINDOW_EVENTS = 4096
"""Events of the log's tail kept for the followers a little behind (up to twice as many
between two cuts)."""


@dataclass
class _Query:
    """One shared ``read_all`` from ``after``: sent once the followers woken together
    have joined (the next turn of the event loop), with the largest page they asked."""

    after: int
    limit: int
    sent: bool = False
    task: asyncio.Future[None] | None = None
    page: asyncio.Future[list[RecordedEvent]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class SharedLogReads(ForwardingEventStore):
    """Implements ``EventStore`` over ``inner``; only ``read_all`` differs (shared)."""

    def __init__(self, inner: EventStore, window_events: int = WINDOW_EVENTS) -> None:
        super().__init__(inner)
        self._window_events = window_events
        self._start: int | None = None
        """The window holds every event after ``_start`` up to ``_end``; ``None``: empty."""
        self._end = 0
        self._events: list[RecordedEvent] = []
        self._positions: list[int] = []
        self._query: _Query | None = None

    async def read_all(self, after_position: int, limit: int = 1000) -> list[RecordedEvent]:
        while True:
            start = self._start
            if start is None or after_position > self._end:
                return await self._read_ahead(after_position, limit)
            if after_position < start:
                return await self.inner.read_all(after_position, limit)
            if after_position < self._end:
                index = bisect.bisect_right(self._positions, after_position)
                return self._events[index : index + limit]
            query = self._query
            if query is not None and (query.sent or query.after != after_position):
                # Sent before this follower asked, it may not hold what the follower must
                # see (or it reads from elsewhere): wait for it, then look again.
                await asyncio.wait([query.page])
                continue
            if query is None:
                query = self._query = _Query(after_position, limit)
                query.task = asyncio.ensure_future(self._send(query))
            else:
                query.limit = max(query.limit, limit)
            page = await asyncio.shield(query.page)
            return page[:limit]

    async def _read_ahead(self, after_position: int, limit: int) -> list[RecordedEvent]:
        """A follower ahead of the window (or the first): its own read, and the window
        starts again from there."""
        page = await self.inner.read_all(after_position, limit)
        if self._start is None or after_position > self._end:
            self._start = self._end = after_position
            self._events, self._positions = [], []
            self._extend(page)
        return page

    async def _send(self, query: _Query) -> None:
        await asyncio.sleep(0)  # the followers woken with the first one join first
        query.sent = True
        try:
            page = await self.inner.read_all(query.after, query.limit)
        except asyncio.CancelledError:
            query.page.cancel()
            raise
        except Exception as exc:  # each follower that asked gets it, as from its own read
            query.page.set_exception(exc)
            query.page.exception()  # retrieved here too: no follower may await it any more
            return
        finally:
            if self._query is query:
                self._query = None
        if query.after == self._end:
            self._extend(page)
        query.page.set_result(page)

    def _extend(self, page: list[RecordedEvent]) -> None:
        if not page:
            return
        self._events += page
        self._positions += [recorded.position for recorded in page]
        self._end = page[-1].position
        surplus = len(self._events) - self._window_events
        # Cut once it holds twice the window, back to the window: a cut moves it all.
        if surplus > self._window_events:
            self._start = self._positions[surplus - 1]
            del self._events[:surplus], self._positions[:surplus]
