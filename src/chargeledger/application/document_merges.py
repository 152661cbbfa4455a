"""Documents written by merging into what is stored, not by replacing it.

Several nodes may add to the same document (a session's meter readings, taken by the
node that held the station before a takeover and by the one that holds it after): a
whole-document write from each would keep only the last one's. A ``DocumentMerge``
carries a function from the stored document (``None`` when there is none) to the new
one; the store applies it to the row it has locked, so two nodes' merges serialize and
neither loses the other's readings, in whichever order they commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from chargeledger.application.ports import DocumentStore, DocumentWrite
from chargeledger.domain.json_object import JsonObject

Merge = Callable[[JsonObject | None], JsonObject]
"""The stored document (``None``: none yet) to the one to store."""


@dataclass(frozen=True)
class DocumentMerge:
    """A change to a document computed from what is stored when it is written."""

    model: str
    key: str
    merge: Merge


@runtime_checkable
class MergingDocuments(Protocol):
    """Optional store capability: writes and merges in one transaction, each merge
    applied to its row under a lock (PostgreSQL, shared by the nodes of a cluster)."""

    async def write_merging(
        self, writes: Sequence[DocumentWrite], merges: Sequence[DocumentMerge]
    ) -> None:
        """Apply ``writes``, then each merge to its locked stored document, atomically."""
        ...


async def write_merging(
    store: DocumentStore, writes: Sequence[DocumentWrite], merges: Sequence[DocumentMerge]
) -> None:
    """Writes and merges in one transaction. A store without the capability (SQLite,
    memory) is held by one process, whose twin writer alone writes the merged models
    (one flush at a time): reading, merging and writing in turn loses nothing there."""
    if not merges:
        await store.write(writes)
        return
    if isinstance(store, MergingDocuments):
        await store.write_merging(writes, merges)
        return
    merged: list[DocumentWrite] = []
    for merge in merges:
        stored = await store.get(merge.model, merge.key)
        merged.append(DocumentWrite(merge.model, merge.key, merge.merge(stored)))
    await store.write([*writes, *merged])
