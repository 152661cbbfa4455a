"""The projection runner: follows the log from the projection's checkpoint, commits
each batch with it, and says how far the read models have got (read-your-writes).

Kept apart from the projection itself (``projections``), which only says what a batch
of the log writes: the runner is about where the read models are, and about waiting
for them, on this node or (``follow_checkpoint``) on the node projecting for all.
"""

from __future__ import annotations

import asyncio
import contextlib

from chargeledger.application.ports import DocumentStore, EventStore
from chargeledger.application.projection_cache import CachedDocuments
from chargeledger.application.projections import CommandAndStationProjection


class ProjectionRunner:
    """Follows the log from the projection's checkpoint and says how far it has got."""

    def __init__(
        self,
        store: EventStore,
        documents: DocumentStore,
        projection: CommandAndStationProjection,
        page_size: int = 500,
        safety_poll_s: float = 1.0,
    ) -> None:
        self._store = store
        self._documents = documents
        self._projection = projection
        self._page_size = page_size
        self._safety_poll_s = safety_poll_s
        self.position = 0
        self._position_moved = asyncio.Event()
        self._waiting = 0
        self._wanted = asyncio.Event()

    async def run(self) -> None:
        self.position = await self._documents.checkpoint(self._projection.name)
        if isinstance(self._documents, CachedDocuments):
            self._documents.clear()  # another node may have projected since we last did
        while True:
            batch = await self._store.read_all(self.position, self._page_size)
            if not batch:
                await self._store.wait_for_events(self.position, self._safety_poll_s)
                continue
            writes = await self._projection.writes_for(batch)
            await self._documents.commit_batch(self._projection.name, batch[-1].position, writes)
            self.reached(batch[-1].position)

    def reached(self, position: int) -> None:
        """The read models are at ``position`` (seen by another node's runner)."""
        if position > self.position:
            self.position = position
            self._position_moved.set()
            self._position_moved = asyncio.Event()

    async def follow_checkpoint(self, every_s: float = 0.005) -> None:
        """Where one node of a cluster projects for all (``run`` there), the others follow
        its checkpoint: looked at often while a reader waits, else once a second."""
        while True:
            if self._waiting:
                await asyncio.sleep(every_s)
            else:
                self._wanted.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wanted.wait(), self._safety_poll_s)
            self.reached(await self._documents.checkpoint(self._projection.name))

    async def wait_until(self, position: int, timeout: float) -> bool:
        """Whether the read models reach ``position`` within ``timeout`` (read-your-writes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiting += 1
        self._wanted.set()
        try:
            while self.position < position:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                moved = self._position_moved
                try:
                    await asyncio.wait_for(moved.wait(), remaining)
                except TimeoutError:
                    return self.position >= position
            return True
        finally:
            self._waiting -= 1


async def forget(documents: DocumentStore, projection: CommandAndStationProjection) -> int:
    """Delete the projection's read models and reset its checkpoint, so that running it
    again rebuilds them from the whole log; the number of documents deleted."""
    return await documents.forget(projection.models, projection.name)
