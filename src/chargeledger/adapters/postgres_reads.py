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
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

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


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchedReads(Generic[K, V]):
    """Reads by key that wait at the same moment go as one statement: a subclass's
    ``_fetch`` answers many keys at once, a key it does not answer gets ``missing()``.
    At most ``max_keys`` keys per statement and ``max_readers`` statements in flight."""

    def __init__(self, max_keys: int, max_readers: int, missing: Callable[[], V]) -> None:
        self._max_keys = max_keys
        self._max_readers = max_readers
        self._missing = missing
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._readers = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        """Statements sent for more than one key (to see batching work)."""

    async def _read_key(self, key: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._readers < self._max_readers:
            self._readers += 1  # uncounted in the step that finds nothing left to read
            task = asyncio.create_task(self._read())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _fetch(self, keys: list[K]) -> dict[K, V]:
        raise NotImplementedError

    def _take(self) -> dict[K, list[asyncio.Future[V]]]:
        if len(self._waiting) <= self._max_keys:
            taken, self._waiting = self._waiting, {}
            return taken
        keys = list(self._waiting)[: self._max_keys]
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
                    value = found[key] if key in found else self._missing()
                    for future in futures:
                        if not future.done():
                            future.set_result(value)
        finally:
            self._readers -= 1


class DocumentGetBatcher(BatchedReads[Key, Any]):
    """``get`` a document's stored JSON (or ``ABSENT``), batched with concurrent gets."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        super().__init__(MAX_KEYS, MAX_READERS, lambda: ABSENT)
        self._pool = pool

    async def get(self, model: str, key: str) -> Any:
        return await self._read_key((model, key))

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
