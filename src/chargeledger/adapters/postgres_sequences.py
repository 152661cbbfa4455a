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

from chargeledger.adapters.postgres_database import PostgresDatabase

BLOCK = 100
"""Numbers a node takes at once: a round trip per 100 StartTransactions, and at most
99 numbers unused when the node stops."""

_TAKE_BLOCK = (
    "INSERT INTO sequences (name, value) VALUES (%(name)s, %(block)s) ON CONFLICT (name) "
    "DO UPDATE SET value = sequences.value + %(block)s RETURNING value"
)


class SequenceBlocks:
    """Hands out each sequence's numbers from a block taken in one round trip."""

    def __init__(self, database: PostgresDatabase, block: int = BLOCK) -> None:
        if block < 1:
            raise ValueError("a block holds one number at least")
        self._db = database
        self.block = block
        self._next: dict[str, int] = {}
        self._last: dict[str, int] = {}
        self._refills: dict[str, asyncio.Lock] = {}
        self.blocks_taken = 0
        """Round trips made (for tests)."""

    async def next(self, name: str) -> int:
        """The next number of ``name`` on this node."""
        while True:
            number = self._take_cached(name)
            if number is not None:
                return number
            lock = self._refills.setdefault(name, asyncio.Lock())
            async with lock:
                if self._next.get(name, 1) > self._last.get(name, 0):
                    # One refill at a time: those who waited for it take from its block.
                    last = await self._take_block(name)
                    self._next[name], self._last[name] = last - self.block + 1, last

    def _take_cached(self, name: str) -> int | None:
        number = self._next.get(name, 1)
        if number > self._last.get(name, 0):
            return None
        self._next[name] = number + 1
        return number

    async def _take_block(self, name: str) -> int:
        async with self._db.pool.connection() as conn:
            cursor = await conn.execute(_TAKE_BLOCK, {"name": name, "block": self.block})
            row = await cursor.fetchone()
        assert row is not None
        self.blocks_taken += 1
        return int(row[0])
