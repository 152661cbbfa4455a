"""``chargeledger bench bus``: commands through the command handler (load, decide, append).

Workloads, on a durable SQLite file (WAL, ``synchronous=FULL``):

- ``sqlite hot station, 8 callers``: eight concurrent callers send commands to one
  station: the seed's contended aggregate.
- ``sqlite 1,000 stations, 8 callers``: the same callers, each command to a station
  picked at random among 1,000.

The command is ``RecordMeterValues`` within an open transaction: it always decides
one event, so every command is a full load, decide and append (with its command id
recorded for idempotency).

Baseline, in the same run on its own SQLite file: an ``eventsourcing`` library
``Application`` (9.5) whose aggregate holds the same ``StationState``, decides with
the same ``decide`` and replays with the same ``evolve``; eight threads, the same
retry (5 attempts, full jitter) on its ``IntegrityError``. It is measured twice:
with the library's aggregate cache (``AGGREGATE_CACHE_MAXSIZE``, fast-forward on),
the fair counterpart of our cache, and as an ``Application`` comes by default
(every command replays the stream).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from bench.common import Row
from chargeledger.adapters.clock import SystemClock
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.ports import Metadata
from chargeledger.bootstrap import open_stores
from chargeledger.domain import commands as c
from chargeledger.domain import station
from chargeledger.domain.events import ALL_EVENTS, Event
from chargeledger.domain.id_tags import IdTagInfo

CALLERS = 8
SPREAD = 1_000
MAX_ATTEMPTS = 5
BASE_DELAY_S = 0.002
EVENT_TYPES = {t.__name__: t for t in ALL_EVENTS}
READING = [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}]


def station_id(n: int) -> str:
    return f"BENCH-{n:05d}"


def boot(n: int) -> c.Command:
    return c.RegisterBoot(f"boot-{n}", station_id(n), "bench", "bus", None, "2026-01-01T00:00:00Z")


def start(n: int) -> c.Command:
    return c.StartTransaction(
        command_id=f"start-{n}",
        connector_id=1,
        id_tag="BENCH",
        meter_start=0,
        timestamp="2026-01-01T00:00:00Z",
        transaction_id=n + 1,
        id_tag_info=IdTagInfo("Accepted"),
    )


def meter_values(n: int) -> c.Command:
    return c.RecordMeterValues(
        command_id=str(uuid.uuid4()), connector_id=1, transaction_id=n + 1, meter_value=READING
    )


# --- ours ---------------------------------------------------------------------------


async def _ours(folder: Path, stations: int, history: int, commands: int) -> float:
    store, _ = await open_stores(f"sqlite:///{folder / 'ours.db'}", SystemClock())
    handler = CommandHandler(
        store, SystemClock(), max_attempts=MAX_ATTEMPTS, base_delay_s=BASE_DELAY_S
    )
    try:
        for n in range(stations):
            await handler.execute(station_id(n), boot(n))
            await handler.execute(station_id(n), start(n))
        if history:  # a long-lived station: its past, in one append, then loaded once
            past = [_decided(meter_values(0)) for _ in range(history)]
            await store.append(f"station-{station_id(0)}", past, 2, Metadata())
            await handler.load(f"station-{station_id(0)}")
        per_caller = commands // CALLERS

        async def caller(seed: int) -> None:
            pick = random.Random(seed)
            for _ in range(per_caller):
                n = pick.randrange(stations)
                await handler.execute(station_id(n), meter_values(n))

        began = time.perf_counter()
        await asyncio.gather(*(caller(seed) for seed in range(CALLERS)))
        return per_caller * CALLERS / (time.perf_counter() - began)
    finally:
        await store.close()


def ours(folder: Path, stations: int, history: int, commands: int) -> float:
    return asyncio.run(_ours(folder, stations, history, commands))


def _decided(command: c.Command) -> Event:
    (decided,) = station.decide(command, _OPEN_SESSION)
    return decided


_OPEN_SESSION = station.fold(station.decide(start(0), station.initial_state))


# --- the eventsourcing library ----------------------------------------------------------


class StationAggregate(Aggregate):
    @staticmethod
    def create_id(name: str) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"chargeledger:{name}")

    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name
        self.state = station.initial_state

    @event("Decided")
    def record(self, type_name: str, data: dict[str, Any]) -> None:
        self.state = station.evolve(self.state, EVENT_TYPES[type_name](**data))


class StationApplication(Application[uuid.UUID]):
    def handle(self, station_name: str, command: c.Command) -> bool:
        """Load, decide, save; on a conflict re-run it all, as our handler does. Whether it
        got through within the attempts."""
        aggregate_id = StationAggregate.create_id(station_name)
        for attempt in range(MAX_ATTEMPTS):
            aggregate: StationAggregate = self.repository.get(aggregate_id)
            for decided in station.decide(command, aggregate.state):
                aggregate.record(type(decided).__name__, dataclasses.asdict(decided))
            try:
                self.save(aggregate)
                return True
            except IntegrityError:
                time.sleep(random.uniform(0, BASE_DELAY_S * 2**attempt))
        return False


def library(folder: Path, stations: int, history: int, commands: int, cached: bool) -> float:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(folder / f"eventsourcing-{cached}.db"),
        "SQLITE_LOCK_TIMEOUT": "30",
        # Our state is immutable; copying it out of the cache would only cost time.
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }
    if cached:
        env["AGGREGATE_CACHE_MAXSIZE"] = "10000"
    app = StationApplication(env=env)
    for n in range(stations):
        app.save(StationAggregate(station_id(n)))
        app.handle(station_id(n), boot(n))
        app.handle(station_id(n), start(n))
    if history:
        aggregate: StationAggregate = app.repository.get(StationAggregate.create_id(station_id(0)))
        for _ in range(history):
            decided = _decided(meter_values(0))
            aggregate.record(type(decided).__name__, dataclasses.asdict(decided))
        app.save(aggregate)
    per_caller = commands // CALLERS
    done = [0] * CALLERS

    def caller(seed: int) -> None:
        pick = random.Random(seed)
        for _ in range(per_caller):
            n = pick.randrange(stations)
            done[seed] += app.handle(station_id(n), meter_values(n))

    elapsed = _in_threads(caller, CALLERS)
    app.close()
    if sum(done) < per_caller * CALLERS:
        print(
            f"bench bus: eventsourcing gave up on {per_caller * CALLERS - sum(done)} commands "
            f"after {MAX_ATTEMPTS} attempts (counted as not done)",
            file=sys.stderr,
        )
    return sum(done) / elapsed


def _in_threads(work: Callable[[int], None], count: int) -> float:
    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(count)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


HOT_HISTORY = 2_030
"""Events a long-lived hot station already has: the seed's aggregate is at version 2,032."""


def run(quick: bool, postgres: str) -> list[Row]:
    """``postgres`` is unused until the PostgreSQL store lands (issue 3)."""
    ours_n, cached_n, default_n = (4_000, 400, 48) if quick else (24_000, 2_000, 64)
    rows: list[Row] = []
    for name, stations, history in (
        (f"sqlite hot station (version 2,032), {CALLERS} callers", 1, HOT_HISTORY),
        (f"sqlite {SPREAD:,} stations, {CALLERS} callers", SPREAD, 0),
    ):
        with tempfile.TemporaryDirectory(prefix="bench-bus-") as folder:
            where = Path(folder)
            our_rate = ours(where, stations, history, ours_n)
            cached = library(where, stations, history, cached_n, cached=True)
            default = library(where, stations, history, default_n, cached=False)
        rows.append(Row(name, "commands/s", our_rate, "eventsourcing default", default))
        rows.append(Row(name, "commands/s", our_rate, "eventsourcing cached", cached))
    return rows
