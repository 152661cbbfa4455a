"""The seed's race at the application level.

A heartbeat and an unlock arriving together made the seed's aggregate fight
itself. Here telemetry goes to the twin and never appends to the station's
stream, so a flood of it beside concurrent remote starts makes no conflict (I5);
and of 16 remote starts competing for one connector from tasks and processes,
exactly one wins and the others hear why.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.twin_service import TwinService
from chargeledger.bootstrap import build_use_cases
from chargeledger.config import Settings
from chargeledger.domain import events as e
from chargeledger.domain.errors import DomainError
from tests.fakes import FakeClock
from tests.integration.command_handler_support import race_processes, store_url  # noqa: F401
from tests.stores import open_test_stores
from tests.unit.domain import scenario as s

STATION = "CP1"


async def flood_telemetry(twin: TwinService, beats: int) -> None:
    for n in range(beats):
        twin.heartbeat(STATION, f"2026-01-01T00:00:{n % 60:02d}Z")
        twin.status_notified(STATION, 1 + n % 4, "Available", "NoError")
        if n % 50 == 0:
            await twin.flush()  # real writes to the same database, beside the appends
        await asyncio.sleep(0)


def _telemetry_process(url: str, ready: Queue[str], go: ProcessEvent) -> None:
    async def main() -> None:
        store, documents = await open_test_stores(url)
        try:
            ready.put("telemetry")
            await asyncio.to_thread(go.wait, 30)
            await flood_telemetry(TwinService(documents, FakeClock()), 2000)
        finally:
            await store.close()

    asyncio.run(main())


async def test_a_telemetry_flood_beside_remote_starts_makes_no_conflict(
    store_url: str,  # noqa: F811
) -> None:
    """I5: a flood of telemetry beside remote starts causes no version conflict."""
    store, documents = await open_test_stores(store_url)
    clock = FakeClock()
    handler = CommandHandler(store, clock)
    twin = TwinService(documents, clock)
    operator = build_use_cases(Settings(), clock, handler, documents, twin, store).operator
    await handler.execute(STATION, s.boot())
    for connector in (1, 2, 3, 4):
        twin.status_notified(STATION, connector, "Available", "NoError")
    context = multiprocessing.get_context("spawn")
    ready: Queue[str] = context.Queue()
    go = context.Event()
    flooder = context.Process(target=_telemetry_process, args=(store_url, ready, go))
    flooder.start()

    async def remote_start(n: int) -> Any:
        body = {"connector_id": 1 + n % 4, "id_tag": f"T{n}"}
        try:
            return await operator.request(STATION, f"rs-{n}", "remote-start", body)
        except DomainError as refusal:
            return refusal.code

    try:
        await asyncio.to_thread(ready.get, True, 60)
        go.set()
        results = await asyncio.gather(
            flood_telemetry(twin, 2000), *(remote_start(n) for n in range(40))
        )
    finally:
        flooder.join(60)
    assert flooder.exitcode == 0
    assert handler.conflicts == 0
    stored = [r.event for r in await store.read_stream(f"station-{STATION}")]
    assert sum(isinstance(event, e.RemoteStartRequested) for event in stored) == 4
    assert [r for r in results[1:] if isinstance(r, str)] == ["ConnectorNotAvailable"] * 36
    assert twin.get(STATION) is not None
    await store.close()


def _competitor(
    url: str, numbers: list[int], ready: Queue[str], go: ProcessEvent, out: Queue[Any]
) -> None:
    async def main() -> list[str]:
        store, _ = await open_test_stores(url)
        handler = CommandHandler(store, FakeClock())
        try:
            await handler.load(f"station-{STATION}")
            ready.put("competitor")
            await asyncio.to_thread(go.wait, 30)
            return await compete(handler, numbers)
        finally:
            await store.close()

    out.put(asyncio.run(main()))


async def compete(handler: CommandHandler, numbers: list[int]) -> list[str]:
    async def one(n: int) -> str:
        try:
            await handler.execute(STATION, s.start(f"rs-{n}", connector=1, tag=f"DRIVER-{n}"))
        except DomainError as refusal:
            return refusal.code
        except Exception as error:
            return repr(error)
        return "won"

    return list(await asyncio.gather(*(one(n) for n in numbers)))


async def test_exactly_one_of_sixteen_competing_remote_starts_wins(
    store_url: str,  # noqa: F811
) -> None:
    store, _ = await open_test_stores(store_url)
    handler = CommandHandler(store, FakeClock())
    await handler.execute(STATION, s.boot())
    groups = [[8, 9, 10, 11], [12, 13, 14, 15]]
    answers, theirs = await race_processes(
        store_url, _competitor, groups, lambda: compete(handler, list(range(8)))
    )
    for their in theirs:
        answers += their
    assert sorted(answers) == ["ConnectorNotAvailable"] * 15 + ["won"]
    stored = [r.event for r in await store.read_stream(f"station-{STATION}")]
    assert sum(isinstance(event, e.RemoteStartRequested) for event in stored) == 1
    await store.close()
