"""Reads of streams that arrive together go to PostgreSQL as one statement.

A station that connects to a node which never held it is loaded from its stream before
its BootNotification is decided (the command handler's cache has nothing of it). In a
reconnect storm, thousands of such loads arrive at once, each a pool checkout and a
round trip: a quarter of a surviving node's samples in the 50,000-station run (issue
13). Loads waiting at the same moment are sent as one ``SELECT ... JOIN unnest(...)``.
Each still sees every event committed before it was asked for, since its statement
starts after the call.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from chargeledger.adapters.postgres_reads import BatchedReads

MAX_STREAMS = 256
"""Streams in one statement at most."""

MAX_READERS = 4
"""Statements in flight at once, each on its own connection."""

_COLUMNS = "e.position, e.stream_id, e.version, e.type, e.schema_version, e.data, e.metadata"
_READ_ONE = (
    f"SELECT {_COLUMNS} FROM events e WHERE e.stream_id = %s AND e.version >= %s ORDER BY e.version"
)
_READ_MANY = (
    f"SELECT k.from_version, {_COLUMNS} "
    "FROM unnest(%s::text[], %s::integer[]) AS k(stream_id, from_version) "
    'JOIN events e ON e.stream_id = k.stream_id COLLATE "C" AND e.version >= k.from_version '
    "ORDER BY e.stream_id, e.version"
)

Key = tuple[str, int]
"""A stream and the first version wanted."""
Row = tuple[Any, ...]


class StreamReadBatcher(BatchedReads[Key, list[Row]]):
    """``read`` the rows of a stream from a version on, batched with concurrent reads."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        super().__init__(MAX_STREAMS, MAX_READERS, list)
        self._pool = pool

    async def read(self, stream_id: str, from_version: int) -> list[Row]:
        return await self._read_key((stream_id, from_version))

    async def _fetch(self, keys: list[Key]) -> dict[Key, list[Row]]:
        async with self._pool.connection() as conn:
            if len(keys) == 1:
                cursor = await conn.execute(_READ_ONE, keys[0], prepare=True)
                return {keys[0]: list(await cursor.fetchall())}
            cursor = await conn.execute(
                _READ_MANY, ([k[0] for k in keys], [k[1] for k in keys]), prepare=True
            )
            rows = await cursor.fetchall()
        self.batches += 1
        found: dict[Key, list[Row]] = {}
        for from_version, *row in rows:
            found.setdefault((row[1], from_version), []).append(tuple(row))
        return found
