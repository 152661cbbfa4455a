"""The projection's document cache answers from memory only what the store holds."""

from __future__ import annotations

from typing import Any

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.application.ports import DocumentWrite
from chargeledger.application.projection_cache import CachedDocuments


class CountingDocuments(InMemoryDocumentStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, model: str, key: str) -> dict[str, Any] | None:
        self.reads += 1
        return await super().get(model, key)


async def test_what_a_batch_wrote_is_read_back_without_asking_the_store() -> None:
    inner = CountingDocuments()
    cached = CachedDocuments(inner)
    await cached.commit_batch("views", 7, [DocumentWrite("command", "k", {"status": "requested"})])
    assert await cached.get("command", "k") == {"status": "requested"}
    assert await cached.get("command", "missing") is None
    assert await cached.get("command", "missing") is None
    assert inner.reads == 1  # only the miss, once
    assert await inner.checkpoint("views") == 7


async def test_a_caller_changing_its_copy_changes_nothing_cached() -> None:
    cached = CachedDocuments(CountingDocuments())
    await cached.commit_batch("views", 1, [DocumentWrite("command", "k", {"n": 1})])
    doc = await cached.get("command", "k")
    assert doc is not None
    doc["n"] = 2
    assert await cached.get("command", "k") == {"n": 1}


async def test_a_deleted_document_is_gone_and_forgetting_clears_everything() -> None:
    inner = CountingDocuments()
    cached = CachedDocuments(inner, capacity=2)
    await cached.commit_batch("views", 1, [DocumentWrite("m", "a", {"v": 1})])
    await cached.commit_batch("views", 2, [DocumentWrite("m", "a", None)])
    assert await cached.get("m", "a") is None
    await cached.commit_batch("views", 3, [DocumentWrite("m", "b", {"v": 2})])
    assert await cached.forget(["m"], "views") == 1
    assert await cached.get("m", "b") is None
    assert await inner.checkpoint("views") == 0


async def test_what_a_caller_changes_deep_inside_its_copy_stays_out_of_the_cache() -> None:
    cached = CachedDocuments(CountingDocuments())
    written = {"history": [{"status": "requested"}], "payload": {"tags": ("a", ["b"])}}
    await cached.commit_batch("views", 1, [DocumentWrite("command", "k", written)])
    written["history"][0]["status"] = "changed by the writer after the write"
    doc = await cached.get("command", "k")
    assert doc is not None
    doc["history"].append({"status": "added by a reader"})
    doc["payload"]["tags"][1].append("c")
    assert await cached.get("command", "k") == {
        "history": [{"status": "requested"}],
        "payload": {"tags": ("a", ["b"])},
    }
