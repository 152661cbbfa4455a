"""Transaction ids on PostgreSQL come in blocks per node: unique across the nodes,
increasing on each, one round trip per block (not per StartTransaction)."""

from __future__ import annotations

import asyncio

from chargeledger.adapters.postgres_documents import PostgresDocumentStore
from chargeledger.adapters.postgres_sequences import SequenceBlocks
from chargeledger.adapters.postgres_store import PostgresEventStore
from chargeledger.bootstrap import open_stores


async def test_two_nodes_draw_unique_numbers_increasing_on_each(postgres_dsn: str) -> None:
    opened = [await open_stores(postgres_dsn) for _ in range(2)]
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
        assert blocks == [3, 3]  # 300 numbers a node, 100 a block
        assert await stores[0].next_in_sequence("other") == 1
    finally:
        for events, _ in opened:
            await events.close()


async def test_a_restarted_node_skips_the_rest_of_its_block(postgres_dsn: str) -> None:
    events, documents = await open_stores(postgres_dsn)
    assert isinstance(events, PostgresEventStore)
    try:
        assert [await documents.next_in_sequence("tx") for _ in range(3)] == [1, 2, 3]
        restarted = SequenceBlocks(events.database, block=10)
        assert await restarted.next("tx") == 101  # 4..100 are never handed out
    finally:
        await events.close()
