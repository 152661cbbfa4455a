"""One PostgreSQL database shared by the event store and the read models.

A connection pool (psycopg 3, async) serves appends and reads; one more
connection only LISTENs, so that appends made by other processes and nodes wake
this process's subscribers. The schema is created or migrated on open, under an
advisory lock so that nodes starting together do not race.

Global order without a global writer lock: an event's position is the id of the
transaction that wrote it, shifted left 16 bits, plus its index among the events
that transaction wrote (a transaction holds one append, or one batch of them).
Readers of the whole log see only positions below the oldest transaction still
running in this database (``_VISIBLE_BOUND`` in ``postgres_store.py``), so a
transaction that commits late can never land behind a position a reader has
already passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg_pool import AsyncConnectionPool

from chargeledger.adapters.notifier import HeadNotifier
from chargeledger.errors import StoreError

log = logging.getLogger(__name__)

CHANNEL = "chargeledger_events"

ANNOUNCE_INTERVAL_S = 0.002
"""At most one NOTIFY per this many seconds from one process: bounds its cost."""

POSITION_SHIFT = 16
"""Bits of a position left for an event's index within its append."""

_NOTIFY = "SELECT set_config('synchronous_commit', 'off', true), pg_notify(%s, %s)"

_MIGRATION_LOCK = 0x63686172676501  # an arbitrary constant: "charge" + 1

MIGRATIONS: list[str] = [
    """
    CREATE TABLE events (
        position BIGINT PRIMARY KEY,
        stream_id TEXT COLLATE "C" NOT NULL,
        version INTEGER NOT NULL,
        type TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        data JSONB NOT NULL,
        metadata JSONB NOT NULL,
        CONSTRAINT events_stream_version UNIQUE (stream_id, version)
    );
    CREATE TABLE stream_commands (
        stream_id TEXT COLLATE "C" NOT NULL,
        command_id TEXT COLLATE "C" NOT NULL,
        version INTEGER NOT NULL,
        first_position BIGINT,
        last_position BIGINT,
        outcome JSONB,
        PRIMARY KEY (stream_id, command_id)
    );
    CREATE TABLE documents (
        model TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        doc JSONB NOT NULL,
        tag TEXT,
        PRIMARY KEY (model, key)
    );
    CREATE INDEX documents_by_tag ON documents (model, tag, key) WHERE tag IS NOT NULL;
    CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position BIGINT NOT NULL);
    CREATE TABLE sequences (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
    """,
    # Each document carries the id of the transaction that last wrote it, so a node
    # reads only the documents changed since its last read (``changed_since``); the
    # rows already there keep 0, and are read once by a reader that starts from 0.
    """
    ALTER TABLE documents ADD COLUMN changed BIGINT NOT NULL DEFAULT 0;
    CREATE OR REPLACE FUNCTION documents_mark_changed() RETURNS trigger AS $$
    BEGIN
        NEW.changed := pg_current_xact_id()::text::bigint;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER documents_mark_changed BEFORE INSERT OR UPDATE ON documents
        FOR EACH ROW EXECUTE FUNCTION documents_mark_changed();
    CREATE INDEX documents_by_change ON documents (model, changed, key);
    """,
    # Only the twins are read by change (``CHANGE_TRACKED`` in ``postgres_documents``):
    # the trigger runs for their writes only, and the index holds their rows only.
    # Other models' rows keep the marker they had; nothing reads it.
    """
    DROP TRIGGER documents_mark_changed ON documents;
    CREATE TRIGGER documents_mark_changed BEFORE INSERT OR UPDATE ON documents
        FOR EACH ROW WHEN (NEW.model = 'twin') EXECUTE FUNCTION documents_mark_changed();
    DROP INDEX documents_by_change;
    CREATE INDEX documents_by_change ON documents (changed, key) WHERE model = 'twin';
    """,
]


class StoreUnavailableError(StoreError):
    """The PostgreSQL server named by the store URL cannot be reached."""


def split_url(url: str) -> tuple[str, int, int]:
    """The libpq URL, and the pool's minimum and maximum size (``?pool_min=&pool_max=``,
    our own options, taken out of the URL before libpq sees it)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    pool_min = _pool_size(query, "pool_min", "1")
    pool_max = _pool_size(query, "pool_max", "16")
    conninfo = urlunsplit(parts._replace(query=urlencode(query)))
    return conninfo, pool_min, max(pool_max, pool_min, 1)


def _pool_size(query: dict[str, str], name: str, default: str) -> int:
    text = query.pop(name, default)
    if not text.isdigit():
        raise ValueError(f"?{name}={text}: a number of connections, e.g. ?{name}={default}")
    return int(text)


def _one_line(exc: Exception) -> str:
    return " ".join(line.strip() for line in str(exc).splitlines()) or repr(exc)


def where(conninfo: str) -> str:
    parts = urlsplit(conninfo)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


async def migrate(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        cursor = await conn.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in await cursor.fetchall()}
        for number, script in enumerate(MIGRATIONS, start=1):
            if number in done:
                continue
            await conn.execute(script.encode())
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))


class PostgresDatabase:
    """The pool, the listening connection and the head notifier they feed."""

    def __init__(self, conninfo: str, pool: AsyncConnectionPool) -> None:
        self.conninfo = conninfo
        self.pool = pool
        self.notifier = HeadNotifier()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._announcer: asyncio.Task[None] | None = None
        self._to_announce = 0
        self._announced = 0
        self._last_announced_at = 0.0

    @classmethod
    async def open(cls, url: str, connect_timeout_s: float = 10.0) -> PostgresDatabase:
        conninfo, pool_min, pool_max = split_url(url)
        try:
            conn = await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, connect_timeout=int(connect_timeout_s)
            )
        except psycopg.ProgrammingError as unreadable:  # libpq cannot parse the URL
            raise ValueError(
                f"{url!r} is not a PostgreSQL URL libpq can read ({_one_line(unreadable)}); "
                "e.g. postgresql://user@host:5432/db"
            ) from None
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(
                f"cannot open the PostgreSQL store at {where(conninfo)}: {_one_line(exc)}; "
                "check the --store URL and that the server is running"
            ) from exc
        try:
            async with conn:
                await migrate(conn)
        except psycopg.Error as exc:  # a role that may not create tables, say
            raise StoreUnavailableError(
                f"cannot prepare the schema of the PostgreSQL store at {where(conninfo)}: "
                f"{_one_line(exc)}; on first start the role must be allowed to create tables"
            ) from exc
        pool: AsyncConnectionPool = AsyncConnectionPool(
            conninfo,
            min_size=pool_min,
            max_size=pool_max,
            kwargs={"autocommit": True},
            open=False,
            name="chargeledger",
        )
        await pool.open(wait=True, timeout=connect_timeout_s)
        database = cls(conninfo, pool)
        database._listener = asyncio.create_task(database._listen(), name="postgres-listen")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(database._listening.wait(), connect_timeout_s)
        return database

    async def _listen(self) -> None:
        """Feed NOTIFY payloads (last positions) to the notifier; reconnect on loss."""
        delay = 0.1
        lost = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, connect_timeout=5
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if lost:
                        # The server is back: the pool's idle connections died with it,
                        # and each would fail one piece of work before being replaced.
                        await self.pool.check()
                        lost = False
                    self._listening.set()
                    delay = 0.1
                    # Whatever committed while we were not listening: let readers look.
                    self.notifier.advance(0)
                    async for notice in conn.notifies():
                        self.notifier.advance(_position(notice.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listening for new events failed (%s); reconnecting", exc)
            lost = True
            self._listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def announce(self, last_position: int) -> None:
        """Tell other processes that the log reached ``last_position``, after commit.

        NOTIFY inside the append would take PostgreSQL's commit-time notify lock and
        serialize every append's commit. Sent after commit instead, at most one per
        ``ANNOUNCE_INTERVAL_S``, a burst of appends costs one NOTIFY; one lost in a
        crash is covered by the subscribers' safety poll.
        """
        self._to_announce = max(self._to_announce, last_position)
        if self._announcer is None or self._announcer.done():
            self._announcer = asyncio.create_task(self._send_announcements())

    async def _send_announcements(self) -> None:
        loop = asyncio.get_running_loop()
        while self._to_announce > self._announced:
            wait = self._last_announced_at + ANNOUNCE_INTERVAL_S - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            position = self._to_announce
            self._last_announced_at = loop.time()
            try:
                async with self.pool.connection() as conn:
                    # Losing a wake-up is harmless, so it need not wait for the disk.
                    await conn.execute(_NOTIFY, (CHANNEL, str(position)), prepare=True)
            except Exception as exc:
                log.warning("could not NOTIFY new events (%s); others poll", exc)
                return
            self._announced = position

    async def close(self) -> None:
        for task in (self._announcer, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if not self.pool.closed:
            await self.pool.close()


def _position(payload: str) -> int:
    try:
        return int(payload)
    except ValueError:
        return 0
