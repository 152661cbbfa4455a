"""PostgreSQL group commit: appends that wait together share a statement, and each
still gets its own outcome (written, conflict or duplicate); none is left waiting."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import pytest

from chargeledger.adapters import postgres_batch
from chargeledger.adapters.postgres_store import PostgresEventStore
from chargeledger.application.ports import NO_STREAM, AppendResult, Metadata, VersionConflictError
from chargeledger.domain.events import CommandAccepted
from tests.stores import open_test_stores


def event(n: int) -> CommandAccepted:
    return CommandAccepted(f"cmd-{n}", {"n": n})


async def test_a_batch_gives_each_append_its_own_outcome(postgres_dsn: str) -> None:
    store, _ = await open_test_stores(postgres_dsn)
    assert isinstance(store, PostgresEventStore)
    try:
        await store.append("taken", [event(0)], NO_STREAM, Metadata(command_id="first"))

        async def attempt(n: int) -> AppendResult | str:
            try:
                if n % 3 == 0:  # a stale version: conflict
                    return await store.append("taken", [event(n)], NO_STREAM, Metadata())
                if n % 3 == 1:  # a command the stream already holds: duplicate
                    return await store.append("taken", [event(n)], 1, Metadata("first"))
                return await store.append(f"new-{n}", [event(n), event(n)], NO_STREAM, Metadata())
            except VersionConflictError as conflict:
                return f"conflict at {conflict.actual}"

        batches = store._batcher.batches
        outcomes = await asyncio.wait_for(asyncio.gather(*(attempt(n) for n in range(60))), 20)
        assert store._batcher.batches > batches, "the appends were never batched"
        for n, outcome in enumerate(outcomes):
            if n % 3 == 0:
                assert outcome == "conflict at 1"
            elif n % 3 == 1:
                assert isinstance(outcome, AppendResult) and outcome.duplicate
                assert outcome.version == 1
            else:
                assert isinstance(outcome, AppendResult) and not outcome.duplicate
                assert outcome.version == 2
                assert outcome.last_position == (outcome.first_position or 0) + 1
        written = [o for o in outcomes if isinstance(o, AppendResult) and not o.duplicate]
        positions = [p for o in written for p in (o.first_position, o.last_position)]
        assert len(set(positions)) == len(positions) == 40
        assert [r.version for r in await store.read_stream("taken")] == [1]
    finally:
        await store.close()


@pytest.mark.parametrize("flushers", [1, 4])
async def test_rounds_of_concurrent_appends_never_leave_one_waiting(
    postgres_dsn: str, flushers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With one flusher, an append arriving as the flusher leaves must start another.
    monkeypatch.setattr(postgres_batch, "MAX_FLUSHERS", flushers)
    store, _ = await open_test_stores(postgres_dsn)
    try:
        versions = [0] * 16

        async def writer(w: int) -> None:
            for _ in range(40):
                result = await store.append(f"w-{w}", [event(w)], versions[w], Metadata())
                versions[w] = result.version

        await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(16))), 20)
        assert versions == [40] * 16
    finally:
        await store.close()


async def test_appends_too_big_to_share_a_transaction_are_not_batched(postgres_dsn: str) -> None:
    store, _ = await open_test_stores(postgres_dsn)
    try:
        big = [CommandAccepted("c", {}) for _ in range(25_000)]
        results = await asyncio.gather(
            *(store.append(f"big-{n}", big, NO_STREAM, Metadata()) for n in range(3))
        )
        for result in results:
            # All of an append's positions share its transaction's 16-bit block.
            assert result.first_position is not None and result.last_position is not None
            assert result.first_position >> 16 == result.last_position >> 16
            assert result.last_position - result.first_position == 24_999
        per_block = Counter(r.first_position >> 16 for r in results if r.first_position)
        assert max(per_block.values()) * 25_000 <= 1 << 16
        spans = sorted((r.first_position or 0, r.last_position or 0) for r in results)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))
    finally:
        await store.close()
