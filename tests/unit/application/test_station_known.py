"""A station is known to the API as soon as its history is in the log, on any node:
a station that booted a moment ago on another node is commandable at once, before
this node's twins and read models have caught up."""

from __future__ import annotations

from typing import Any

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.ports import DocumentWrite
from chargeledger.application.queries import Views
from chargeledger.application.registry import REGISTRY
from chargeledger.application.twin_service import TwinService
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore
from tests.unit.domain import scenario as s


async def test_a_station_with_only_a_history_in_the_log_is_known() -> None:
    store, documents, clock = MemoryEventStore(), InMemoryDocumentStore(), FakeClock()
    views = Views(documents, TwinService(documents, clock), store)
    assert not await views.station_known("CP1")
    await CommandHandler(store, clock).execute("CP1", s.boot())  # no projection, no twin here
    assert await views.station_known("CP1")
    assert not await views.station_known("CP2")


async def test_a_station_only_registered_or_only_connected_is_known() -> None:
    store, documents, clock = MemoryEventStore(), InMemoryDocumentStore(), FakeClock()
    twin = TwinService(documents, clock)
    views = Views(documents, twin, store)
    await documents.write([DocumentWrite(REGISTRY, "CP1", {"station_id": "CP1"})])
    twin.connected("CP2", epoch=1)
    assert await views.station_known("CP1")
    assert await views.station_known("CP2")
    assert not await views.station_known("CP3")


class _CountingDocuments(InMemoryDocumentStore):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def get(self, model: str, key: str) -> dict[str, Any] | None:
        self.gets += 1
        return await super().get(model, key)


async def test_a_station_with_a_twin_is_known_without_reading_a_document() -> None:
    documents, clock = _CountingDocuments(), FakeClock()
    twin = TwinService(documents, clock)
    views = Views(documents, twin, MemoryEventStore())
    twin.connected("CP1", epoch=1)
    assert await views.station_known("CP1")
    assert documents.gets == 0
