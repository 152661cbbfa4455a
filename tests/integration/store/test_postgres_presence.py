"""The connection registry of a cluster on PostgreSQL under a connect flood: claims
go in batches (few transactions, one NOTIFY per batch and only for takeovers), and
the node's lease is renewed from a thread of its own while its event loop is busy,
but not while that loop is hung, and never after it lapsed in the database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import psycopg
import pytest

from chargeledger.adapters.postgres_presence import PostgresPresence
from chargeledger.adapters.postgres_presence_schema import CHANNEL
from chargeledger.adapters.postgres_store import PostgresEventStore
from tests.stores import open_test_stores


@dataclass
class Node:
    presence: PostgresPresence
    fenced: dict[str, int] = field(default_factory=dict)
    lost: list[float] = field(default_factory=list)


@pytest.fixture
async def nodes(postgres_dsn: str) -> AsyncIterator[list[Node]]:
    """Factory-like: each test starts the nodes it needs through ``join``."""
    started: list[Node] = []
    yield started
    for node in started:
        await node.presence.close()
        await node.presence.database.close()


async def join(dsn: str, nodes: list[Node], node_id: str, lease_s: float = 10.0) -> Node:
    store, _ = await open_test_stores(dsn)
    assert isinstance(store, PostgresEventStore)
    presence = PostgresPresence(store.database, node_id, lease_s)
    await presence.start()
    node = Node(presence)
    presence.on_fence(lambda station_id, epoch: node.fenced.__setitem__(station_id, epoch))
    presence.on_lease_lost(lambda: node.lost.append(time.monotonic()))
    nodes.append(node)
    return node


@contextlib.asynccontextmanager
async def notices(dsn: str) -> AsyncIterator[list[str]]:
    """Every NOTIFY on the registry's channel while the block runs."""
    heard: list[str] = []
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")

        async def listen() -> None:
            async for notice in conn.notifies():
                heard.append(notice.payload)

        listening = asyncio.create_task(listen())
        try:
            yield heard
            await asyncio.sleep(0.5)  # the last ones arrive
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening


async def until(check: Callable[[], bool], timeout: float) -> None:
    """Poll ``check`` (state of this process) until true, or fail."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def busy(seconds: float) -> None:
    """The event loop busy with work that holds the interpreter (a connect flood)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pass


async def test_a_flood_of_claims_is_batched_and_only_takeovers_are_announced(
    postgres_dsn: str, nodes: list[Node]
) -> None:
    a = await join(postgres_dsn, nodes, "node-a")
    b = await join(postgres_dsn, nodes, "node-b")
    stations = [f"FLOOD-{n:04}" for n in range(400)]

    async with notices(postgres_dsn) as heard:
        first = await asyncio.gather(*(a.presence.claim(s) for s in stations))
    assert heard == []  # nobody held them: nobody to tell
    assert a.presence.claim_batches <= 10
    assert len({c.epoch for c in first}) == len(stations)
    assert all(c.previous_node is None for c in first)

    async with notices(postgres_dsn) as heard:
        batches_before = b.presence.claim_batches
        second = await asyncio.gather(*(b.presence.claim(s) for s in stations))
        await until(lambda: len(a.fenced) == len(stations), 10)
    assert b.presence.claim_batches - batches_before <= 10
    assert 1 <= len(heard) <= 20  # one per batch (in parts that fit a NOTIFY)
    for before, after in zip(first, second, strict=True):
        assert after.previous_node == "node-a"
        assert after.previous_epoch == before.epoch
        assert after.epoch > before.epoch
    assert a.fenced == {c.station_id: c.epoch for c in second}
    assert await a.presence.holders(stations) == {c.station_id: c.epoch for c in second}


async def test_a_station_claimed_twice_at_once_gets_two_epochs_in_order(
    postgres_dsn: str, nodes: list[Node]
) -> None:
    a = await join(postgres_dsn, nodes, "node-a")
    one, two = await asyncio.gather(a.presence.claim("TWICE"), a.presence.claim("TWICE"))
    assert two.epoch > one.epoch
    assert two.previous_epoch == one.epoch
    assert await a.presence.holders(["TWICE"]) == {"TWICE": two.epoch}


async def test_the_lease_is_renewed_while_the_event_loop_is_busy(
    postgres_dsn: str, nodes: list[Node]
) -> None:
    a = await join(postgres_dsn, nodes, "node-a", lease_s=3.0)
    keeping = asyncio.create_task(a.presence.keep_lease())
    try:
        refused = 0
        until = time.monotonic() + 8.0
        while time.monotonic() < until:
            busy(0.7)  # each turn of the loop takes 0.7 s: a renewal needs several
            await asyncio.sleep(0)
            refused += not a.presence.may_send()
        assert refused == 0
        assert a.lost == []
    finally:
        keeping.cancel()


async def test_a_node_whose_event_loop_hangs_loses_its_lease_then_joins_again(
    postgres_dsn: str, nodes: list[Node]
) -> None:
    a = await join(postgres_dsn, nodes, "node-a", lease_s=1.5)
    keeping = asyncio.create_task(a.presence.keep_lease())
    try:
        await asyncio.sleep(0.6)
        busy(3.5)  # hung: beyond the beat bound and the lease
        with psycopg.connect(postgres_dsn) as conn:
            row = conn.execute(
                "SELECT lease_until < now() FROM cluster_nodes WHERE node_id = 'node-a'"
            ).fetchone()
        assert row == (True,)  # the thread did not renew for a loop that did not run
        await asyncio.sleep(0.3)
        assert len(a.lost) == 1  # its stations dropped
        await until(a.presence.may_send, 10)
        assert len(a.lost) == 1
    finally:
        keeping.cancel()


async def test_a_renewal_after_the_lease_lapsed_in_the_database_is_refused(
    postgres_dsn: str, nodes: list[Node]
) -> None:
    a = await join(postgres_dsn, nodes, "node-a", lease_s=3.0)
    keeping = asyncio.create_task(a.presence.keep_lease())
    try:
        async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
            # As if the others had seen it lapse (and swept its stations).
            await conn.execute(
                "UPDATE cluster_nodes SET lease_until = now() - interval '1 second' "
                "WHERE node_id = 'node-a'"
            )
            await until(lambda: bool(a.lost), 5)  # not renewed over the lapse: dropped
            await until(a.presence.may_send, 5)  # joined again, with a fresh lease
            assert len(a.lost) == 1
            cursor = await conn.execute(
                "SELECT lease_until > now() FROM cluster_nodes WHERE node_id = 'node-a'"
            )
            assert await cursor.fetchone() == (True,)
    finally:
        keeping.cancel()
