"""A reconnecting station: what its boot and the resume grace each do."""

from __future__ import annotations

import asyncio
from typing import Any

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.adapters.ocpp.handlers import StationMessages
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.adapters.ocpp.v16.operations import OCPP16
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.twin_service import TwinService
from tests.fakes import OPEN_REGISTRATION, FakeClock
from tests.stores import MemoryEventStore

BOOT = {"chargePointVendor": "v", "chargePointModel": "m"}


class SlowStore(MemoryEventStore):
    """Counts the reads of a stream; its appends take a while (a storm's database)."""

    def __init__(self) -> None:
        super().__init__()
        self.stream_reads = 0
        self.append_s = 0.0

    async def read_stream(self, *args: Any, **kwargs: Any) -> Any:
        self.stream_reads += 1
        return await super().read_stream(*args, **kwargs)

    async def append(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(self.append_s)
        return await super().append(*args, **kwargs)


def _messages(store: SlowStore) -> StationMessages:
    """The handlers of a node that never held the station (nothing cached)."""
    clock, documents = FakeClock(), InMemoryDocumentStore()
    handler = CommandHandler(store, clock)
    twin = TwinService(documents, clock)
    dispatcher = Dispatcher(handler, documents, clock, twin, OCPP16, reconcile_grace_s=0)
    return StationMessages(
        handler, twin, dispatcher, clock, OPEN_REGISTRATION, 60, boot_grace_s=0.05
    )


async def test_a_boot_slower_than_the_grace_is_not_doubled_by_a_resume() -> None:
    """The boot arrived within the grace but is answered after it: the boot decides,
    and the resume does not load the station's stream a second time."""
    store = SlowStore()
    first = StationSession("CP1", 1, lambda text: None)
    await _messages(store).boot_notification(first, BOOT)  # accepted on an earlier node
    messages, store.stream_reads, store.append_s = _messages(store), 0, 0.3
    session = StationSession("CP1", 2, lambda text: None)
    resume = asyncio.create_task(messages.resume(session))
    reply = await asyncio.wait_for(messages.boot_notification(session, BOOT), 5)
    await asyncio.wait_for(resume, 5)
    assert reply.payload["status"] == "Accepted"
    assert store.stream_reads == 1


async def test_a_station_that_does_not_boot_is_resumed_after_the_grace() -> None:
    store = SlowStore()
    await _messages(store).boot_notification(StationSession("CP1", 1, lambda text: None), BOOT)
    session = StationSession("CP1", 2, lambda text: None)
    await asyncio.wait_for(_messages(store).resume(session), 5)
    assert session.registered
