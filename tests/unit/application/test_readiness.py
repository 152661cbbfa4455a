"""The checks behind /readyz (issue 10, item 6): a store that reads but cannot write
makes the node not ready, and says so; so do a silent gateway and lagging read models."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.application.ports import DocumentWrite
from chargeledger.application.readiness import (
    PROBE_MODEL,
    StoreProbe,
    gateway_listening,
    read_models_within,
)
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore


class ReadOnlyDocuments(InMemoryDocumentStore):
    """Reads answer; every write fails as SQLite's does on a read-only file."""

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")


class HangingDocuments(InMemoryDocumentStore):
    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        await asyncio.sleep(3600)


async def test_a_store_that_writes_passes_and_leaves_a_probe_document() -> None:
    documents = InMemoryDocumentStore()
    probe = StoreProbe(MemoryEventStore(), documents, FakeClock(), "node-7")
    verdict = await probe.check()
    assert (verdict.name, verdict.ok) == ("store", True)
    assert (await documents.get(PROBE_MODEL, "node-7") or {})["node_id"] == "node-7"


async def test_a_store_that_reads_but_cannot_write_fails_the_store_check() -> None:
    probe = StoreProbe(MemoryEventStore(), ReadOnlyDocuments(), FakeClock(), "node-1")
    verdict = await probe.check()
    assert verdict.name == "store" and not verdict.ok
    assert "attempt to write a readonly database" in verdict.detail
    assert probe.last == verdict  # what /healthz reports


async def test_a_store_that_does_not_answer_fails_within_the_timeout() -> None:
    probe = StoreProbe(MemoryEventStore(), HangingDocuments(), FakeClock(), "node-1", timeout_s=0.1)
    verdict = await asyncio.wait_for(probe.check(), 2)
    assert not verdict.ok and "no answer within 0.1 s" in verdict.detail


async def test_a_gateway_that_does_not_listen_fails_the_gateway_check() -> None:
    assert (await gateway_listening(lambda: True)()).ok
    verdict = await gateway_listening(lambda: False)()
    assert (verdict.name, verdict.ok) == ("gateway", False)


async def test_read_models_behind_the_log_past_the_bound_fail_their_check() -> None:
    class Head(MemoryEventStore):
        async def head_position(self) -> int:
            return 500

    assert (await read_models_within(Head(), lambda: 400, 100)()).ok
    verdict = await read_models_within(Head(), lambda: 399, 100)()
    assert (verdict.name, verdict.ok) == ("read_models", False)
    assert verdict.detail == "101 events behind the log (bound 100)"
