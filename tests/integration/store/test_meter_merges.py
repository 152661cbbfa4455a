"""Two nodes merging readings into the same meter documents at once, on real
PostgreSQL: the row lock serializes their merges (a document neither has written yet
too), so the count is every reading either took (issue 13: a takeover lost readings)."""

from __future__ import annotations

import asyncio

from chargeledger.application.twin_service import TwinService
from tests.fakes import FakeClock
from tests.stores import open_test_stores

ROUNDS = 20
SESSIONS = 5


async def test_concurrent_merges_of_two_nodes_lose_no_reading(postgres_dsn: str) -> None:
    stores = [await open_test_stores(postgres_dsn), await open_test_stores(postgres_dsn)]
    nodes = [TwinService(documents, FakeClock()) for _, documents in stores]
    try:
        for second in range(ROUNDS):
            for number, node in enumerate(nodes):
                reading = {
                    "timestamp": f"2026-01-01T00:{second:02}:{number:02}Z",
                    "sampledValue": [{"value": str(second)}],
                }
                for tx in range(SESSIONS):
                    await node.meter_values("CP1", 1, tx, [reading])
            await asyncio.gather(*(node.flush() for node in nodes))
        for node in nodes:
            for tx in range(SESSIONS):
                meters = await node.meters("CP1", tx)
                assert meters is not None and meters["count"] == 2 * ROUNDS
                assert len(meters["series"]) == 2 * ROUNDS
    finally:
        for events, _ in stores:
            await events.close()
