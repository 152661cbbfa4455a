"""One node of a cluster runs the jobs that must run once (the projections, the
sweeps): the one holding a PostgreSQL session advisory lock.

No clock and no consensus of our own: the lock belongs to a database session, so
it is released when that session ends (the node is killed, its connection is
cut); another node's next try takes it. The leader looks at its session every
``check_every_s`` and stops its jobs as soon as it fails.

Until it notices, the old leader's jobs may still run: its session ended on the
server, not in the node. So each leadership has a term, from a sequence, written
to ``cluster_leader`` by the node that takes the lock, and the projections'
writes are fenced by it (``PostgresDocumentStore.commit_batch`` reads the row
``FOR SHARE`` in its transaction and refuses a term that is not the current one):
the new leader's term waits for the old leader's write in flight, and after it
no write of the old term lands. The other jobs are safe under an overlap by
themselves (see ``application/cluster.py``).
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from chargeledger.application.supervisor import Supervisor, Worker

log = logging.getLogger(__name__)

LEADER_LOCK = 0x63686172676503  # "charge" + 3

_TAKE_TERM = (
    "INSERT INTO cluster_leader (id, term, node_id) "
    "VALUES (1, nextval('cluster_leader_terms'), %s) ON CONFLICT (id) DO UPDATE "
    "SET term = excluded.term, node_id = excluded.node_id, since = now() RETURNING term"
)
_CURRENT_TERM = "SELECT term FROM cluster_leader WHERE id = 1"


class PostgresLeadership:
    def __init__(self, conninfo: str, node_id: str, check_every_s: float = 1.0) -> None:
        self._conninfo = conninfo
        self._node_id = node_id
        self._check_every_s = check_every_s
        self.is_leader = False
        self.term = 0
        """The term of this node's latest leadership (0: never led). Kept after it ends,
        so that a job still running then is refused by the store."""
        self._jobs: dict[str, Worker] = {}

    def add(self, name: str, job: Worker) -> None:
        """A job to run (supervised) while this node leads."""
        self._jobs[name] = job

    async def run(self) -> None:
        """Try for the lock; while held, run the jobs (a supervised worker itself)."""
        while True:
            try:
                await self._lead_when_possible()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("leadership session failed (%r); trying again", exc)
            await asyncio.sleep(self._check_every_s)

    async def _lead_when_possible(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=5
        ) as conn:
            while True:  # polled: PostgreSQL has no wake-up for a freed advisory lock
                if await self._try_lock(conn):
                    break
                await asyncio.sleep(self._check_every_s)
            cursor = await conn.execute(_TAKE_TERM, (self._node_id,))
            row = await cursor.fetchone()
            assert row is not None and isinstance(row[0], int)
            self.term = row[0]
            log.info(
                "node %s now runs the cluster's once-only jobs (term %d)", self._node_id, self.term
            )
            supervisor = Supervisor()
            for name, job in self._jobs.items():
                supervisor.add(name, job)
            jobs = asyncio.create_task(supervisor.run(), name="leader-jobs")
            self.is_leader = True
            try:
                while True:  # polled: a lost session or term sends no wake-up
                    await asyncio.sleep(self._check_every_s)
                    if not await self._still_leading(conn):
                        break
            finally:
                self.is_leader = False
                jobs.cancel()
                await asyncio.gather(jobs, return_exceptions=True)
                log.warning("node %s no longer runs the once-only jobs", self._node_id)

    async def _still_leading(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> bool:
        """The session holding the lock answers, and no other node took a newer term
        (which it can only do once this session's lock is gone)."""
        cursor = await asyncio.wait_for(conn.execute(_CURRENT_TERM), self._check_every_s * 2)
        row = await cursor.fetchone()
        return row is not None and row[0] == self.term

    async def _try_lock(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> bool:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,))
        row = await cursor.fetchone()
        return bool(row and row[0])
