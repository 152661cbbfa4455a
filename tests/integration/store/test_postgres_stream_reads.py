"""PostgreSQL: loads of streams that arrive together share a statement, and each gets
its own stream's events from the version it asked for, no more, no fewer."""

from __future__ import annotations

import asyncio

from chargeledger.adapters.postgres_store import PostgresEventStore
from chargeledger.application.ports import NO_STREAM, Metadata
from chargeledger.domain.events import CommandAccepted
from tests.stores import open_test_stores


def event(n: int) -> CommandAccepted:
    return CommandAccepted(f"cmd-{n}", {"n": n})


async def test_concurrent_loads_share_a_statement_and_each_gets_its_own_events(
    postgres_dsn: str,
) -> None:
    store, _ = await open_test_stores(postgres_dsn)
    assert isinstance(store, PostgresEventStore)
    try:
        for n in range(40):
            events = [event(n * 10 + k) for k in range(n % 4 + 1)]
            await store.append(f"station-{n}", events, NO_STREAM, Metadata())

        async def load(n: int) -> list[tuple[str, int, dict[str, int]]]:
            from_version = 1 + n % 2  # a cache topped up from its version, or a full load
            recorded = await store.read_stream(f"station-{n}", from_version)
            return [(r.stream_id, r.version, r.event.result) for r in recorded]  # type: ignore[attr-defined]

        before = store._stream_reads.batches
        loads = await asyncio.wait_for(asyncio.gather(*(load(n) for n in range(41))), 20)
        assert store._stream_reads.batches > before, "the loads were never batched"
        for n, loaded in enumerate(loads[:40]):
            first = 1 + n % 2
            wanted = [
                (f"station-{n}", k + 1, {"n": n * 10 + k}) for k in range(first - 1, n % 4 + 1)
            ]
            assert loaded == wanted
        assert loads[40] == []  # a stream never written
    finally:
        await store.close()
