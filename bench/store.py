"""``chargeledger bench store``: our event stores against the ``eventsourcing`` library.

Every workload runs on SQLite and on PostgreSQL, durable (SQLite WAL with
``synchronous=FULL``; PostgreSQL ``synchronous_commit=on``), each side on a fresh
file or a fresh database:

- N writers (1, 16, 64) each appending one event at a time to its own stream,
  with the exact expected version (ours also records a command id, as the handler does);
- 8 writers on one hot stream, each catching up and retrying on a version conflict;
- subscription lag (p99, from the append call to delivery) at 1,000 appends/s;
- the floor: a raw ``sqlite3`` / ``psycopg`` insert loop with no library at all;
- SQLite only: the peak size of the ``-wal`` file under sustained writes and reads,
  against the same store whose checkpointer never resets the WAL (as before issue 14).
  ``CHARGELEDGER_BENCH_WAL_SECONDS`` sets how long (default 5 s quick, 30 s full).

The baseline is ``eventsourcing`` 9.5's own persistence modules (its SQLite and
PostgreSQL application recorders), driven from threads since they are synchronous.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.common import Row
from chargeledger.adapters.clock import SystemClock
from chargeledger.adapters.serialization import EventCodec
from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.adapters.sqlite_store import SQLiteEventStore
from chargeledger.application.ports import EventStore, Metadata, VersionConflictError
from chargeledger.bootstrap import open_stores
from chargeledger.domain.events import CommandAccepted

ES = "eventsourcing 9.5"
HOT_WRITERS = 8
LAG_RATE = 1000.0


def run(quick: bool, postgres: str) -> list[Row]:
    seconds = 1.0 if quick else 4.0
    lag_seconds = 1.5 if quick else 5.0
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        sqlite = SQLiteSide(Path(tmp))
        rows += side_rows("sqlite", sqlite, seconds, lag_seconds)
        wal_seconds = float(os.environ.get("CHARGELEDGER_BENCH_WAL_SECONDS", 5 if quick else 30))
        rows.append(wal_peak_row(Path(tmp), wal_seconds))
    pg = PostgresSide(postgres)
    rows += side_rows("postgres", pg, seconds, lag_seconds)
    return rows


def side_rows(name: str, side: Side, seconds: float, lag_seconds: float) -> list[Row]:
    rows: list[Row] = []
    writer_counts = (1, 16, 64)
    ours_at: dict[int, float] = {}
    for writers in writer_counts:
        ours = asyncio.run(ours_distinct(side, writers, seconds))
        theirs = side.es_distinct(writers, seconds)
        ours_at[writers] = ours
        rows.append(Row(f"{name}: {writers} writers, own streams", "appends/s", ours, ES, theirs))
    ours = asyncio.run(ours_hot(side, seconds))
    theirs = side.es_hot(seconds)
    rows.append(
        Row(f"{name}: {HOT_WRITERS} writers, one hot stream", "appends/s", ours, ES, theirs)
    )
    for writers in (1, 16) if name == "postgres" else (1, 64):
        floor = side.raw_floor(writers, seconds)
        rows.append(
            Row(
                f"{name}: {writers} writers vs floor",
                "appends/s",
                ours_at[writers],
                side.floor_name(writers),
                floor,
            )
        )
    ours_lag = asyncio.run(ours_lag_p99(side, lag_seconds))
    theirs_lag = side.es_lag_p99(lag_seconds)
    rows.append(
        Row(
            f"{name}: subscription lag p99 at {LAG_RATE:,.0f} appends/s",
            "ms",
            ours_lag,
            side.es_lag_name,
            theirs_lag,
            higher_is_better=False,
        )
    )
    return rows


class Side:
    """One database kind: fresh places for each run, and the baseline's runs on them."""

    es_lag_name = ES

    def fresh_url(self) -> str:
        raise NotImplementedError

    def drop(self, url: str) -> None:
        """Remove what ``fresh_url`` made."""

    def es_recorder(self, pool: int) -> Any:
        raise NotImplementedError

    def floor_name(self, writers: int) -> str:
        raise NotImplementedError

    def raw_floor(self, writers: int, seconds: float) -> float:
        raise NotImplementedError

    def es_distinct(self, writers: int, seconds: float) -> float:
        recorder, close = self.es_recorder(writers)
        try:
            return threaded(writers, seconds, lambda w, stop: es_own_stream(recorder, stop))
        finally:
            close()

    def es_hot(self, seconds: float) -> float:
        recorder, close = self.es_recorder(HOT_WRITERS)
        try:
            stream = str(uuid.uuid4())
            return threaded(
                HOT_WRITERS, seconds, lambda w, stop: es_hot_stream(recorder, stream, stop)
            )
        finally:
            close()

    def es_lag_p99(self, seconds: float) -> float:
        raise NotImplementedError


# --- ours -------------------------------------------------------------------------------


def event(n: int) -> CommandAccepted:
    return CommandAccepted(f"bench-{n}", {"n": n, "sent": time.perf_counter()})


async def with_store(side: Side, pool: int, body: Callable[[EventStore], Awaitable[Any]]) -> Any:
    url = side.fresh_url()
    if url.startswith("postgresql"):
        url += f"?pool_min={pool}&pool_max={pool}"
    store, _ = await open_stores(url, SystemClock())
    try:
        return await body(store)
    finally:
        await store.close()
        side.drop(url)


async def timed(writers: int, seconds: float, one: Callable[[int], Awaitable[int]]) -> float:
    """Appends per second of ``writers`` tasks each running ``one(writer)`` until time."""
    deadline = time.perf_counter() + seconds
    counts = [0] * writers

    async def loop(w: int) -> None:
        while time.perf_counter() < deadline:
            counts[w] += await one(w)

    started = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in range(writers)))
    return sum(counts) / (time.perf_counter() - started)


async def ours_distinct(side: Side, writers: int, seconds: float) -> float:
    async def body(store: EventStore) -> float:
        versions = [0] * writers
        prefix = uuid.uuid4().hex[:8]

        async def one(w: int) -> int:
            n = versions[w]
            stream = f"{prefix}-{w}"
            await store.append(stream, [event(n)], n, Metadata(command_id=f"{stream}-{n}"))
            versions[w] = n + 1
            return 1

        return await timed(writers, seconds, one)

    return float(await with_store(side, min(writers, 32), body))


async def ours_hot(side: Side, seconds: float) -> float:
    async def body(store: EventStore) -> float:
        known = [0] * HOT_WRITERS

        async def one(w: int) -> int:
            try:
                await store.append("hot", [event(known[w])], known[w], Metadata())
            except VersionConflictError:
                newer = await store.read_stream("hot", known[w] + 1)
                known[w] = newer[-1].version if newer else known[w]
                return 0
            known[w] += 1
            return 1

        return await timed(HOT_WRITERS, seconds, one)

    return float(await with_store(side, HOT_WRITERS, body))


async def ours_lag_p99(side: Side, seconds: float) -> float:
    """A writer paced at LAG_RATE; a subscriber records each event's delay from the
    append call. On SQLite both share the node's store, as in ``serve``; on PostgreSQL
    the subscriber has a store of its own, as on another node, and hears of new
    events only through LISTEN/NOTIFY."""
    url = side.fresh_url()
    writer_store, _ = await open_stores(url, SystemClock())
    reader_store = writer_store
    if url.startswith("postgresql"):
        reader_store, _ = await open_stores(url, SystemClock())
    lags: list[float] = []
    total = int(seconds * LAG_RATE)
    try:

        async def subscriber() -> None:
            async for page in reader_store.subscribe(0, page_size=1000, safety_poll_s=1.0):
                now = time.perf_counter()
                lags.extend(now - r.event.result["sent"] for r in page)  # type: ignore[attr-defined]
                if len(lags) >= total:
                    return

        following = asyncio.create_task(subscriber())
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        for n in range(total):
            delay = start + n / LAG_RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await writer_store.append("lag", [event(n)], n, Metadata())
        await asyncio.wait_for(following, 30)
    finally:
        if reader_store is not writer_store:
            await reader_store.close()
        await writer_store.close()
        side.drop(url)
    return p99_ms(lags)


def wal_peak_row(folder: Path, seconds: float) -> Row:
    ours, appends = asyncio.run(wal_peak(folder / "wal-ours.db", seconds, reset=True))
    theirs, _ = asyncio.run(wal_peak(folder / "wal-grow.db", seconds, reset=False))
    return Row(
        f"sqlite: -wal peak, {seconds:.0f} s of 32 writers + readers ({appends:,.0f}/s)",
        "MB",
        ours,
        "no reset (PASSIVE only)",
        theirs,
        higher_is_better=False,
    )


async def wal_peak(path: Path, seconds: float, reset: bool) -> tuple[float, float]:
    """The largest ``-wal`` file seen while 32 writers append 1 KB events without pause
    and two readers scan and look up, as projections and the API do on a node."""
    database = SQLiteDatabase(path) if reset else SQLiteDatabase(path, wal_soft_limit=2**62)
    store = SQLiteEventStore(database, EventCodec(), SystemClock())
    deadline = time.perf_counter() + seconds
    payload = "x" * 1000
    peak = 0
    appended = 0

    async def writer(w: int) -> None:
        nonlocal appended
        version = 0
        while time.perf_counter() < deadline:
            command = f"w{w}-{version}"
            await store.append(
                f"w{w}",
                [CommandAccepted(command, {"pad": payload})],
                version,
                Metadata(command_id=command),
            )
            version += 1
            appended += 1

    async def reader() -> None:
        while time.perf_counter() < deadline:
            await store.read_all(max(0, appended - 2000), 500)
            await store.read_stream("w1")
            await asyncio.sleep(0)

    async def sampler() -> None:
        nonlocal peak
        while time.perf_counter() < deadline:
            if database.wal_path.exists():
                peak = max(peak, database.wal_path.stat().st_size)
            await asyncio.sleep(0.05)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(writer(w) for w in range(32)), reader(), reader(), sampler())
    finally:
        await store.close()
    return peak / 1e6, appended / (time.perf_counter() - started)


def p99_ms(lags: list[float]) -> float:
    return statistics.quantiles(lags, n=100)[98] * 1000 if len(lags) > 1 else 0.0


# --- the eventsourcing baseline ---------------------------------------------------------


def threaded(writers: int, seconds: float, work: Callable[[int, float], int]) -> float:
    """Appends per second of ``writers`` threads each running ``work(w, stop_at)``."""
    counts = [0] * writers
    deadline = time.perf_counter() + seconds

    def thread(w: int) -> None:
        counts[w] = work(w, deadline)

    threads = [threading.Thread(target=thread, args=(w,)) for w in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def stored(originator: str, version: int) -> Any:
    from eventsourcing.persistence import StoredEvent

    state = json.dumps({"n": version, "sent": time.perf_counter()}).encode()
    return StoredEvent(originator, version, "bench:CommandAccepted", state)


def es_own_stream(recorder: Any, stop_at: float) -> int:
    stream = str(uuid.uuid4())
    done = 0
    while time.perf_counter() < stop_at:
        done += 1
        recorder.insert_events([stored(stream, done)])
    return done


def es_hot_stream(recorder: Any, stream: str, stop_at: float) -> int:
    from eventsourcing.persistence import IntegrityError

    known = 0
    done = 0
    while time.perf_counter() < stop_at:
        try:
            recorder.insert_events([stored(stream, known + 1)])
        except IntegrityError:
            newer = recorder.select_events(stream, gt=known)
            known = newer[-1].originator_version if newer else known
            continue
        known += 1
        done += 1
    return done


def es_paced_writer(recorder: Any, seconds: float) -> None:
    stream = str(uuid.uuid4())
    start = time.perf_counter()
    for n in range(int(seconds * LAG_RATE)):
        delay = start + n / LAG_RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        recorder.insert_events([stored(stream, n + 1)])


def sent_at(state: bytes) -> float:
    return float(json.loads(state)["sent"])


# --- SQLite -----------------------------------------------------------------------------


class SQLiteSide(Side):
    es_lag_name = f"{ES} (no SQLite subscription: a 10 ms poll)"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fresh_url(self) -> str:
        return f"sqlite:///{self.folder / uuid.uuid4().hex}.db"

    def es_recorder(self, pool: int) -> tuple[Any, Callable[[], None]]:
        from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

        path = self.folder / f"es-{uuid.uuid4().hex}.db"
        datastore = SQLiteDatastore(str(path), pool_size=pool, max_overflow=0, pool_timeout=60)
        recorder = SQLiteApplicationRecorder(datastore)
        recorder.create_table()
        return recorder, datastore.close

    def floor_name(self, writers: int) -> str:
        return f"raw sqlite3 loop ({writers} row{'s' if writers > 1 else ''} per commit)"

    def raw_floor(self, writers: int, seconds: float) -> float:
        """One connection inserting ``writers`` rows per durable commit, no library."""
        conn = sqlite3.connect(self.folder / f"raw-{uuid.uuid4().hex}.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT, version INTEGER,"
            " data TEXT, UNIQUE (stream_id, version))"
        )
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            conn.execute("BEGIN IMMEDIATE")
            for w in range(writers):
                data = json.dumps({"n": done, "sent": time.perf_counter()})
                conn.execute(
                    "INSERT INTO events (stream_id, version, data) VALUES (?, ?, ?)",
                    (f"s-{w}", done // writers + 1, data),
                )
                done += 1
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
        return done / elapsed

    def es_lag_p99(self, seconds: float) -> float:
        recorder, close = self.es_recorder(2)
        lags: list[float] = []
        total = int(seconds * LAG_RATE)
        try:
            writer = threading.Thread(target=es_paced_writer, args=(recorder, seconds))
            writer.start()
            last = 0
            deadline = time.perf_counter() + seconds + 30
            while len(lags) < total and time.perf_counter() < deadline:
                found = recorder.select_notifications(start=last + 1, limit=1000)
                now = time.perf_counter()
                lags += [now - sent_at(n.state) for n in found]
                if found:
                    last = found[-1].id
                else:
                    time.sleep(0.01)
            writer.join()
        finally:
            close()
        return p99_ms(lags)


# --- PostgreSQL -------------------------------------------------------------------------


class PostgresSide(Side):
    es_lag_name = f"{ES} PostgresSubscription (LISTEN/NOTIFY)"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        parts = urlsplit(dsn)
        self.admin = urlunsplit(parts._replace(path="/postgres", query=""))

    def fresh_url(self) -> str:
        name = f"bench_store_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return urlunsplit(urlsplit(self.dsn)._replace(path=f"/{name}", query=""))

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    def es_recorder(self, pool: int) -> tuple[Any, Callable[[], None]]:
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

        url = self.fresh_url()
        parts = urlsplit(url)
        datastore = PostgresDatastore(
            dbname=parts.path.lstrip("/"),
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or "",
            pool_size=min(pool, 32),
            max_overflow=0,
            max_waiting=0,
            originator_id_type="text",
        )
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()

        def close() -> None:
            datastore.close()
            self.drop(url)

        return recorder, close

    def floor_name(self, writers: int) -> str:
        return f"raw psycopg loop ({writers} connection{'s' if writers > 1 else ''})"

    def raw_floor(self, writers: int, seconds: float) -> float:
        """``writers`` async connections inserting one row per autocommit transaction."""
        url = self.fresh_url()

        async def body() -> float:
            conns = [
                await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(writers)
            ]
            try:
                await conns[0].execute(
                    "CREATE TABLE events (position BIGSERIAL PRIMARY KEY, stream_id TEXT, "
                    "version INTEGER, data JSONB, UNIQUE (stream_id, version))"
                )
                versions = [0] * writers

                async def one(w: int) -> int:
                    versions[w] += 1
                    data = json.dumps({"n": versions[w], "sent": time.perf_counter()})
                    await conns[w].execute(
                        "INSERT INTO events (stream_id, version, data) VALUES (%s, %s, %s)",
                        (f"s-{w}", versions[w], data),
                        prepare=True,
                    )
                    return 1

                return await timed(writers, seconds, one)
            finally:
                for conn in conns:
                    await conn.close()

        try:
            return asyncio.run(body())
        finally:
            self.drop(url)

    def es_lag_p99(self, seconds: float) -> float:
        recorder, close = self.es_recorder(4)
        lags: list[float] = []
        total = int(seconds * LAG_RATE)
        try:
            with recorder.subscribe(gt=0) as subscription:
                writer = threading.Thread(target=es_paced_writer, args=(recorder, seconds))
                writer.start()
                for notification in subscription:
                    lags.append(time.perf_counter() - sent_at(notification.state))
                    if len(lags) >= total:
                        break
                writer.join()
        finally:
            close()
        return p99_ms(lags)
