"""Numbers from the ``sequences`` table, taken in blocks (transaction and reservation
ids on PostgreSQL).

One number per round trip made every StartTransaction (and every OCPP 2.0.1
TransactionEvent) wait for a commit on one row that every node of the cluster
updates: the row's lock is held until the commit is durable, so the nodes queued
behind each other's disk flushes, and during a reconnect storm behind the boots'
commits too. A node takes ``block`` numbers at once instead, and hands them out from
memory until they run out.

What it changes: numbers stay unique across the cluster (each block is the row's
range ``(value - block, value]`` under its lock) and increasing on each node, but no
longer increasing across nodes (node A may hand out 101 after node B handed out 150),
and a node that stops (or restarts) leaves the rest of its block unused: gaps, which
OCPP allows (a transaction id only has to be unique). A rolling upgrade can mix nodes
that take one number with nodes that take blocks: both add to the same row, so the
numbers stay unique.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from chargeledger.adapters.postgres_database import PostgresDatabase

log = logging.getLogger(__name__)

BLOCK = 100
"""Numbers a node takes at once: a round trip per 100 StartTransactions, and at most
149 numbers unused when the node stops (the rest of a block and one taken ahead)."""

_TAKE_BLOCK = (
    "INSERT INTO sequences (name, value) VALUES (%(name)s, %(block)s) ON CONFLICT (name) "
    "DO UPDATE SET value = sequences.value + %(block)s RETURNING value"
)


class SequenceBlocks:
    """Hands out each sequence's numbers from blocks taken in one round trip each; the
    next block is taken ahead, once half of the current one is handed out, so that a
    StartTransaction waits for the database only when numbers go faster than a round
    trip (or for the first block)."""

    def __init__(self, database: PostgresDatabase, block: int = BLOCK) -> None:
        if block < 1:
            raise ValueError("a block holds one number at least")
        self._db = database
        self.block = block
        self._ranges: dict[str, deque[list[int]]] = {}
        """Per name, the blocks taken and not used up: [next, last], in the order taken."""
        self._refills: dict[str, asyncio.Task[None]] = {}
        self.blocks_taken = 0
        """Round trips made (for tests)."""

    async def next(self, name: str) -> int:
        """The next number of ``name`` on this node."""
        ranges = self._ranges.setdefault(name, deque())
        while True:
            if ranges:
                current = ranges[0]
                number = current[0]
                current[0] += 1
                if current[0] > current[1]:
                    ranges.popleft()
                if sum(r[1] - r[0] + 1 for r in ranges) < (self.block + 1) // 2:
                    self._refill(name)  # taken ahead, in the background
                return number
            await asyncio.shield(self._refill(name))  # a failure is the caller's

    def _refill(self, name: str) -> asyncio.Task[None]:
        """The refill of ``name`` under way, or a new one: one at a time, so the blocks
        are queued in the order the database gave them (increasing)."""
        running = self._refills.get(name)
        if running is None or running.done():
            running = self._refills[name] = asyncio.create_task(self._take_block(name))
            running.add_done_callback(_retrieve)
        return running

    async def _take_block(self, name: str) -> None:
        async with self._db.pool.connection() as conn:
            cursor = await conn.execute(_TAKE_BLOCK, {"name": name, "block": self.block})
            row = await cursor.fetchone()
        assert row is not None
        last = int(row[0])
        self.blocks_taken += 1
        self._ranges.setdefault(name, deque()).append([last - self.block + 1, last])


def _retrieve(task: asyncio.Task[None]) -> None:
    """A refill taken ahead that failed: logged; the next one that is awaited reports."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("could not take a block of numbers ahead: %r", error)
