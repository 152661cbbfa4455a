"""Keyset paging of the read models: a page is the documents after a key, so the next
page starts where the last one ended, whatever was written in between (an offset
would skip or repeat a document when one is added or removed ahead of it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from chargeledger.application.ports import DocumentStore
from chargeledger.domain.json_object import JsonObject

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100

_SCAN_CHUNK = 200
_SCAN_CHUNKS = 20
"""A filtered page reads at most this many chunks; it may then come back short, with
a next cursor, rather than hold a request for a filter that matches almost nothing."""


def page_size(limit: int | None) -> int:
    """``?limit=N`` bounded to 1..MAX_PAGE_SIZE (a larger ask gets the largest page)."""
    if limit is None:
        return DEFAULT_PAGE_SIZE
    return max(1, min(MAX_PAGE_SIZE, limit))


Item = TypeVar("Item")


@dataclass(frozen=True)
class Page(Generic[Item]):
    """``items`` in order; ``next_after``: the key the next page starts after, or
    ``None`` when this page is the last."""

    items: list[Item] = field(default_factory=list)
    next_after: str | None = None


async def scan(
    documents: DocumentStore,
    model: str,
    *,
    limit: int,
    tag: str | None = None,
    after: str | None = None,
    descending: bool = False,
    keep: Callable[[JsonObject], bool] | None = None,
) -> Page[JsonObject]:
    """One page of a model's documents, as loaded, that ``keep`` keeps (all when ``None``);
    the caller reads each into its type."""
    if keep is None:
        rows = await documents.page(
            model, limit=limit + 1, tag=tag, after=after, descending=descending
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([doc for _, doc in rows], rows[-1][0] if more and rows else None)
    kept: list[JsonObject] = []
    cursor = after
    for _ in range(_SCAN_CHUNKS):
        rows = await documents.page(
            model, limit=_SCAN_CHUNK, tag=tag, after=cursor, descending=descending
        )
        for key, doc in rows:
            cursor = key
            if keep(doc):
                kept.append(doc)
                if len(kept) == limit:
                    return Page(kept, key)
        if len(rows) < _SCAN_CHUNK:
            return Page(kept, None)
    return Page(kept, cursor)
