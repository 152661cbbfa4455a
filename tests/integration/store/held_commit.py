"""Hold a PostgreSQL append between its insert and its commit, through the store's public
``append``: a trigger (in the test's own database) makes the transaction that writes to
one stream wait on an advisory lock the test holds, with its positions taken and its
rows written, until the test lets it commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql

GATE = 4242
"""The advisory lock a held append waits on."""


@asynccontextmanager
async def commits_held(dsn: str, stream_id: str) -> AsyncIterator[HeldCommits]:
    """While open, a transaction that inserts into ``stream_id`` does not commit;
    ``release`` (or leaving) lets it. The trigger is gone on leaving."""
    gate = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    async with gate:
        await gate.execute(
            f"""
            CREATE FUNCTION held_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_advisory_xact_lock({GATE}); RETURN NULL; END $$;
            CREATE TRIGGER held_commit AFTER INSERT ON events FOR EACH ROW
            WHEN (NEW.stream_id = {sql.quote(stream_id)}) EXECUTE FUNCTION held_commit();
            """
        )
        await gate.execute("SELECT pg_advisory_lock(%s)", (GATE,))
        held = HeldCommits(gate, dsn)
        try:
            yield held
        finally:
            await held.release()
            await gate.execute("DROP TRIGGER held_commit ON events; DROP FUNCTION held_commit()")


class HeldCommits:
    def __init__(self, gate: psycopg.AsyncConnection[object], dsn: str) -> None:
        self._gate = gate
        self._dsn = dsn
        self._released = False

    async def waiting(self, timeout: float = 10.0) -> None:
        """Until a held append waits at the gate (its rows written, not committed)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            cursor = await self._gate.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND objid = %s AND NOT granted",
                (GATE,),
            )
            row = await cursor.fetchone()
            if row is not None and row[0] > 0:
                return
            assert asyncio.get_running_loop().time() < deadline, "no append reached the gate"
            await asyncio.sleep(0.01)

    async def cancel(self) -> None:
        """Cancel the held append's statement: its transaction rolls back."""
        await self._gate.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND objid = %s AND NOT granted",
            (GATE,),
        )

    async def release(self) -> None:
        if not self._released:
            self._released = True
            await self._gate.execute("SELECT pg_advisory_unlock(%s)", (GATE,))
