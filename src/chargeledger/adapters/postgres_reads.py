"""Point reads of documents that arrive together go to PostgreSQL as one statement.

Each ``get`` by itself costs a pool checkout and a round trip, about 0.2 ms of this
process's CPU whatever the row: an operator's command reads five documents before
it is decided, and at 200 commands/s those reads alone were a quarter of the node's
CPU on PostgreSQL (``bench commands``). Gets waiting at the same moment are sent as
one ``SELECT ... WHERE (model, key) IN (...)``. Each still sees every write that
committed before it was asked for, since its statement starts after the call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from psycopg_pool import AsyncConnectionPool

MAX_KEYS = 256
"""Documents in one statement at most."""

MAX_READERS = 4
"""Statements in flight at once, each on its own connection: a get never waits for
another's round trip while a connection is free for it."""

_GET_ONE = "SELECT doc FROM documents WHERE model = %s AND key = %s"
_GET_MANY = (
    "SELECT d.model, d.key, d.doc FROM documents d "
    "JOIN unnest(%s::text[], %s::text[]) AS k(model, key) "
    "ON d.model = k.model AND d.key = k.key"
)

Key = tuple[str, str]

ABSENT: Any = object()
"""What ``get`` returns for a document that is not stored (a stored JSON ``null`` is
``None``, misshapen, not absent)."""


class DocumentGetBatcher:
    """``get`` a document's stored JSON (or ``ABSENT``), batched with concurrent gets."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._waiting: dict[Key, list[asyncio.Future[Any]]] = {}
        self._readers = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        """Statements sent for more than one document (to see batching work)."""

    async def get(self, model: str, key: str) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((model, key), []).append(future)
        if self._readers < MAX_READERS:
            self._readers += 1  # uncounted in the step that finds nothing left to read
            task = asyncio.create_task(self._read())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    def _take(self) -> dict[Key, list[asyncio.Future[Any]]]:
        if len(self._waiting) <= MAX_KEYS:
            taken, self._waiting = self._waiting, {}
            return taken
        keys = list(self._waiting)[:MAX_KEYS]
        return {key: self._waiting.pop(key) for key in keys}

    async def _read(self) -> None:
        try:
            while taken := self._take():
                try:
                    found = await self._fetch(list(taken))
                except Exception as exc:
                    for futures in taken.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                                future.exception()  # its caller may have gone
                    continue
                except BaseException:
                    for futures in taken.values():
                        for future in futures:
                            future.cancel()
                    raise
                for key, futures in taken.items():
                    doc = found.get(key, ABSENT)
                    for future in futures:
                        if not future.done():
                            future.set_result(doc)
        finally:
            self._readers -= 1

    async def _fetch(self, keys: list[Key]) -> dict[Key, Any]:
        async with self._pool.connection() as conn:
            if len(keys) == 1:
                cursor = await conn.execute(_GET_ONE, keys[0], prepare=True)
                row = await cursor.fetchone()
                return {} if row is None else {keys[0]: row[0]}
            cursor = await conn.execute(
                _GET_MANY, ([k[0] for k in keys], [k[1] for k in keys]), prepare=True
            )
            rows = await cursor.fetchall()
        self.batches += 1
        return {(model, key): doc for model, key, doc in rows}
