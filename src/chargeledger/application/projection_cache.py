"""A write-through cache in front of the documents a projection keeps.

The projection is the only writer of its read models on a node, so the documents it
read or wrote last are still what is stored: keeping them in memory spares a store
read per event, which is most of what keeping the views up to date costs.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from chargeledger.application.ports import DocumentPage, DocumentStore, DocumentWrite
from chargeledger.domain.json_object import JsonObject

_ABSENT: JsonObject = {}


class CachedDocuments:
    """Implements ``DocumentStore``: ``get`` from memory when it can, writes through."""

    def __init__(self, inner: DocumentStore, capacity: int = 100_000) -> None:
        self._inner = inner
        self._capacity = capacity
        self._docs: OrderedDict[tuple[str, str], JsonObject] = OrderedDict()

    async def get(self, model: str, key: str) -> JsonObject | None:
        cached = self._docs.get((model, key))
        if cached is None:
            found = await self._inner.get(model, key)
            self._remember(model, key, found)
            return found
        self._docs.move_to_end((model, key))
        return None if cached is _ABSENT else _copied(cached)

    async def list(self, model: str, tag: str | None = None) -> list[JsonObject]:
        return await self._inner.list(model, tag)

    async def page(
        self,
        model: str,
        *,
        limit: int,
        tag: str | None = None,
        after: str | None = None,
        descending: bool = False,
    ) -> DocumentPage:
        return await self._inner.page(
            model, limit=limit, tag=tag, after=after, descending=descending
        )

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        await self._inner.write(writes)
        self._absorb(writes)

    async def checkpoint(self, name: str) -> int:
        return await self._inner.checkpoint(name)

    async def commit_batch(self, name: str, position: int, writes: Sequence[DocumentWrite]) -> None:
        try:
            await self._inner.commit_batch(name, position, writes)
        except BaseException:
            self._docs.clear()  # the batch may or may not have landed: trust the store again
            raise
        self._absorb(writes)

    async def forget(self, models: Sequence[str], checkpoint_name: str) -> int:
        self._docs.clear()
        return await self._inner.forget(models, checkpoint_name)

    async def next_in_sequence(self, name: str) -> int:
        return await self._inner.next_in_sequence(name)

    def clear(self) -> None:
        """Forget every cached document (another writer may have changed them)."""
        self._docs.clear()

    def _absorb(self, writes: Sequence[DocumentWrite]) -> None:
        for write in writes:
            self._remember(write.model, write.key, write.doc)

    def _remember(self, model: str, key: str, doc: Mapping[str, Any] | None) -> None:
        self._docs[(model, key)] = _ABSENT if doc is None else _copied(doc)
        self._docs.move_to_end((model, key))
        while len(self._docs) > self._capacity:
            self._docs.popitem(last=False)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _copied(value: Any) -> Any:
    """A deep copy of a JSON-shaped document (a mapping becomes a dict), tens of times
    cheaper than ``copy.deepcopy``, which the projection paid twice per document it
    touched: a document is mostly scalars, so a dict is copied in C and only the
    containers in it are copied again. Anything but dicts, lists, tuples and
    immutable scalars goes to ``deepcopy``."""
    kind = type(value)
    if kind is dict:
        copied = value.copy()
        for key, item in copied.items():
            if type(item) not in _SCALARS:
                copied[key] = _copied(item)
        return copied
    if kind in _SCALARS:
        return value
    if kind is list:
        return [item if type(item) in _SCALARS else _copied(item) for item in value]
    if kind is tuple:
        return tuple(_copied(item) for item in value)
    if isinstance(value, Mapping):
        return _copied(dict(value))
    if isinstance(value, (str, int, float)):
        return value  # a StrEnum, an IntEnum: none of them changes
    return copy.deepcopy(value)
