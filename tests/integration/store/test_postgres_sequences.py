"""Transaction ids on PostgreSQL come in blocks per node: unique across the nodes,
increasing on each, one round trip per block (not per StartTransaction)."""

from __future__ import annotations

import asyncio

import pytest

from chargeledger.adapters.postgres_documents import PostgresDocumentStore
from chargeledger.adapters.postgres_sequences import SequenceBlocks
from chargeledger.adapters.postgres_store import PostgresEventStore
from tests.stores import open_test_stores


async def test_two_nodes_draw_unique_numbers_increasing_on_each(postgres_dsn: str) -> None:
    opened = [await open_test_stores(postgres_dsn) for _ in range(2)]
    try:
        stores = [documents for _, documents in opened]
        assert all(isinstance(store, PostgresDocumentStore) for store in stores)
        drawn: list[list[int]] = [[], []]

        async def draw(node: int) -> None:
            for _ in range(150):
                drawn[node].append(await stores[node].next_in_sequence("tx"))
                await asyncio.sleep(0)

        # Each node draws in turns and concurrently with itself and the other.
        await asyncio.gather(*(draw(node) for node in (0, 1, 0, 1)))
        everything = drawn[0] + drawn[1]
        assert len(set(everything)) == len(everything) == 600
        for numbers in drawn:
            assert numbers == sorted(numbers)
        blocks = [s.sequences.blocks_taken for s in stores if isinstance(s, PostgresDocumentStore)]
        # 300 numbers a node, 100 a block, and one taken ahead (maybe still on its way)
        assert all(3 <= taken <= 4 for taken in blocks), blocks
        assert await stores[0].next_in_sequence("other") == 1
    finally:
        for events, _ in opened:
            await events.close()


async def test_a_restarted_node_skips_the_rest_of_its_block(postgres_dsn: str) -> None:
    events, documents = await open_test_stores(postgres_dsn)
    assert isinstance(events, PostgresEventStore)
    try:
        assert [await documents.next_in_sequence("tx") for _ in range(3)] == [1, 2, 3]
        restarted = SequenceBlocks(events.database, block=10)
        assert await restarted.next("tx") == 101  # 4..100 are never handed out
    finally:
        await events.close()


async def test_the_next_block_is_taken_before_the_current_one_runs_out(postgres_dsn: str) -> None:
    events, _ = await open_test_stores(postgres_dsn)
    assert isinstance(events, PostgresEventStore)
    blocks = SequenceBlocks(events.database, block=10)
    try:
        assert [await blocks.next("tx") for _ in range(6)] == [1, 2, 3, 4, 5, 6]
        for _ in range(100):  # the 6th number left 4 of 10: the next block is on its way
            if blocks.blocks_taken == 2:
                break
            await asyncio.sleep(0.05)
        assert blocks.blocks_taken == 2
        for expected in range(7, 15):  # 4 left and 10 ahead: none of these waits
            drawing = blocks.next("tx")
            with pytest.raises(StopIteration) as drawn:
                drawing.send(None)
            assert drawn.value.value == expected
    finally:
        await events.close()
