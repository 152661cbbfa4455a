"""I9: a read that carries a position token reflects at least that position, or says
that it timed out waiting (the API's ``?min_position=`` answers 503 NotCaughtUp then)."""

from __future__ import annotations

import asyncio

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.projection_runner import ProjectionRunner
from chargeledger.application.projections import CommandAndStationProjection
from chargeledger.application.read_model_documents import COMMANDS
from chargeledger.domain import commands as c
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore
from tests.unit.domain.scenario import boot

AT = "2026-01-01T00:00:00+00:00"
LATER = "2026-01-01T00:10:00+00:00"


async def test_i9_a_read_at_a_written_position_sees_the_write_or_says_it_timed_out() -> None:
    """I9: waiting for the writer's position, the reader sees the write; a position the
    read models cannot reach in time is answered ``False``, not a stale read."""
    store, documents = MemoryEventStore(), InMemoryDocumentStore()
    handler = CommandHandler(store, FakeClock())
    runner = ProjectionRunner(store, documents, CommandAndStationProjection(documents))
    running = asyncio.create_task(runner.run())
    try:
        await handler.execute("CP1", boot())
        reset = c.RequestReset(
            command_id="r-1", reset_type="Soft", requested_at=AT, expires_at=LATER
        )
        written = await handler.execute("CP1", reset)
        position = written.position
        assert position is not None
        assert await runner.wait_until(position, 5.0)
        doc = await documents.get(COMMANDS, "r-1")
        assert doc is not None and doc["position"] >= position
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert not await runner.wait_until(position + 1000, 0.2)
        assert loop.time() - began < 2.0  # bounded: it says so instead of hanging
    finally:
        running.cancel()
