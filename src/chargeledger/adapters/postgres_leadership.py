"""One node of a cluster runs the jobs that must run once (the projections, the
sweeps): the one holding a PostgreSQL session advisory lock.

No clock and no consensus of our own: the lock belongs to a database session, so
it is released when that session ends (the node is killed, its connection is
cut); another node's next try takes it. The leader looks at its session every
``check_every_s`` and stops its jobs as soon as it fails, so two leaders overlap
at most that long, and only when PostgreSQL ended the session before the node
noticed (the jobs that run here are safe even then: see ``application/cluster.py``).
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from chargeledger.application.supervisor import Supervisor, Worker

log = logging.getLogger(__name__)

LEADER_LOCK = 0x63686172676503  # "charge" + 3


class PostgresLeadership:
    def __init__(self, conninfo: str, node_id: str, check_every_s: float = 1.0) -> None:
        self._conninfo = conninfo
        self._node_id = node_id
        self._check_every_s = check_every_s
        self.is_leader = False
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
            log.info("node %s now runs the cluster's once-only jobs", self._node_id)
            supervisor = Supervisor()
            for name, job in self._jobs.items():
                supervisor.add(name, job)
            jobs = asyncio.create_task(supervisor.run(), name="leader-jobs")
            self.is_leader = True
            try:
                while True:
                    await asyncio.sleep(self._check_every_s)
                    await asyncio.wait_for(conn.execute("SELECT 1"), self._check_every_s * 2)
            finally:
                self.is_leader = False
                jobs.cancel()
                await asyncio.gather(jobs, return_exceptions=True)
                log.warning("node %s no longer runs the once-only jobs", self._node_id)

    async def _try_lock(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> bool:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,))
        row = await cursor.fetchone()
        return bool(row and row[0])
