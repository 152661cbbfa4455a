"""The leader's jobs are fenced: a node whose leadership session ended on the server,
and which has not noticed yet, writes no projection batch once another node leads
(no read model written twice with different content; one writer per read model
across the cluster, I8's counterpart for the leader)."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import pytest

from chargeledger.adapters.postgres_database import PostgresDatabase
from chargeledger.adapters.postgres_documents import PostgresDocumentStore
from chargeledger.adapters.postgres_leadership import LEADER_LOCK, PostgresLeadership
from chargeledger.adapters.postgres_presence_schema import install_schema
from chargeledger.application.cluster import LeadershipLostError
from chargeledger.application.ports import DocumentWrite
from tests.e2e.conftest import eventually

_LEADER_SESSION = """
SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
  AND ((classid::bigint << 32) | objid::bigint) = %s
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


async def _leader(
    dsn: str, node_id: str, check_every_s: float
) -> tuple[PostgresLeadership, PostgresDocumentStore, PostgresDatabase]:
    database = await PostgresDatabase.open(dsn)
    async with database.pool.connection() as conn:
        await install_schema(conn)
    leadership = PostgresLeadership(database.conninfo, node_id, check_every_s)
    documents = PostgresDocumentStore(database)
    documents.leader_term = lambda: leadership.term
    return leadership, documents, database


async def test_a_deposed_leader_that_has_not_noticed_writes_no_projection_batch(
    postgres_dsn: str,
) -> None:
    # node-a looks at its session only once a minute: it will not notice in this test.
    leader_a, documents_a, database_a = await _leader(postgres_dsn, "node-a", 60.0)
    leader_b, documents_b, database_b = await _leader(postgres_dsn, "node-b", 0.05)
    running = [asyncio.create_task(leader_a.run())]
    try:
        await eventually(lambda: _is(leader_a), 10)
        running.append(asyncio.create_task(leader_b.run()))
        await documents_a.commit_batch("views", 10, [DocumentWrite("view", "k", {"by": "a"})])

        # node-a's session ends on the server (its connection was cut, say).
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            (pid,) = admin.execute(_LEADER_SESSION, (LEADER_LOCK,)).fetchone() or (None,)
            assert pid is not None, "no session holds the leader's lock"
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        await eventually(lambda: _is(leader_b), 10)
        assert leader_a.is_leader, "node-a noticed already: the overlap was not reproduced"

        with pytest.raises(LeadershipLostError):
            await documents_a.commit_batch(
                "views", 20, [DocumentWrite("view", "k", {"by": "a, deposed"})]
            )
        await documents_b.commit_batch("views", 20, [DocumentWrite("view", "k", {"by": "b"})])
        assert await documents_b.get("view", "k") == {"by": "b"}
        assert await documents_b.checkpoint("views") == 20
        assert leader_b.term > leader_a.term
    finally:
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await database_a.close()
        await database_b.close()


async def _is(leadership: PostgresLeadership) -> bool:
    return leadership.is_leader
