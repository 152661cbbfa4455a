"""The dispatcher with fakes of our ports: no command is left without its end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore, InMemoryEventStore
from chargeledger.adapters.ocpp.v16.operations import OCPP16
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.projection_runner import ProjectionRunner
from chargeledger.application.projections import CommandAndStationProjection
from chargeledger.application.twin_service import TwinService
from chargeledger.config import Settings
from chargeledger.domain import commands as c
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore

AT = "2026-01-01T00:00:00+00:00"
LATER = "2026-01-01T00:10:00+00:00"


class FakeLink:
    """A station link that records the CALLs it was asked to send."""

    def __init__(self, station_id: str, epoch: int) -> None:
        self.station_id = station_id
        self.epoch = epoch
        self.calls: list[str] = []

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(action)
        return {"status": "Accepted"}


class Node:
    def __init__(
        self,
        store: InMemoryEventStore | None = None,
        may_send: Callable[[], bool] | None = None,
        documents: InMemoryDocumentStore | None = None,
    ) -> None:
        self.clock = FakeClock()
        self.store = store or MemoryEventStore()
        self.documents = documents or InMemoryDocumentStore()
        self.handler = CommandHandler(self.store, self.clock)
        twin = TwinService(self.documents, self.clock)
        self.dispatcher = Dispatcher(
            self.handler,
            self.documents,
            self.clock,
            twin,
            OCPP16,
            reconcile_grace_s=0,
            may_send=may_send,
        )
        self.projections = ProjectionRunner(
            self.store, self.documents, CommandAndStationProjection(self.documents)
        )

    async def project(self) -> None:
        runner = asyncio.create_task(self.projections.run())
        await self.projections.wait_until(await self.store.head_position(), 5)
        runner.cancel()


async def _status(documents: InMemoryDocumentStore, command_id: str) -> str:
    doc = await documents.get("command", command_id)
    assert doc is not None
    return str(doc["status"])


def _start(command_id: str, expires_at: str) -> c.RequestRemoteStart:
    return c.RequestRemoteStart(
        command_id=command_id, connector_id=1, id_tag="T", requested_at=AT, expires_at=expires_at
    )


async def test_a_dispatch_recorded_by_a_dead_node_is_reconciled_even_if_the_view_lags() -> None:
    node = Node()
    await node.handler.execute("CP1", _start("k1", LATER))
    await node.project()  # the view says "requested" ...
    dead_node_dispatch = c.MarkDispatched("k1/dispatch/1", "k1", 1, 1, AT)
    await node.handler.execute("CP1", dead_node_dispatch)  # ... then a node died after this
    link = FakeLink("CP1", epoch=2)
    await node.dispatcher.station_ready(link)
    await asyncio.sleep(0.05)
    await node.project()
    assert link.calls == ["TriggerMessage"]  # asked where the station stands, never re-sent
    assert await _status(node.documents, "k1") == "failed"


class SlowViews(InMemoryDocumentStore):
    """Counts the reads of every open command; each answers what was there when it
    began, after a while (or when ``gate`` opens)."""

    def __init__(self) -> None:
        super().__init__()
        self.open_reads = 0
        self.gate: asyncio.Event | None = None

    async def list(self, model: str, tag: str | None = None) -> list[dict[str, Any]]:
        documents = await super().list(model, tag)
        if model == "command":
            self.open_reads += 1
            await (self.gate.wait() if self.gate is not None else asyncio.sleep(0.02))
        return documents


async def test_stations_ready_together_share_reads_of_the_open_commands() -> None:
    """A reconnect storm: the open commands are not read once per boot (O(open) each)."""
    node = Node(documents=(views := SlowViews()))
    stations = [f"CP{n}" for n in range(50)]
    for station in stations:
        await node.handler.execute(station, _start(f"k-{station}", LATER))
    await node.project()
    links = [FakeLink(station, epoch=1) for station in stations]
    await asyncio.gather(*(node.dispatcher.station_ready(link) for link in links))
    assert views.open_reads <= 2
    for _ in range(100):
        if all(link.calls for link in links):
            break
        await asyncio.sleep(0.02)
    assert [link.calls for link in links] == [["RemoteStartTransaction"]] * len(links)


async def test_a_station_ready_while_a_read_runs_is_not_given_that_older_read() -> None:
    """A command requested before the boot is found, even when a read that began before
    it was in the views is still running: the boot waits for a read of its own."""
    node = Node(documents=(views := SlowViews()))
    views.gate = asyncio.Event()
    first = asyncio.create_task(node.dispatcher.station_ready(FakeLink("CP1", epoch=1)))
    await asyncio.sleep(0.02)  # a read runs, begun before k-late was requested
    await node.handler.execute("CP2", _start("k-late", LATER))
    await node.project()
    link = FakeLink("CP2", epoch=1)
    second = asyncio.create_task(node.dispatcher.station_ready(link))
    await asyncio.sleep(0.02)
    views.gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    for _ in range(100):
        if link.calls:
            break
        await asyncio.sleep(0.02)
    assert link.calls == ["RemoteStartTransaction"]
    assert views.open_reads == 2


async def test_a_dispatched_command_nobody_waits_on_is_ended_by_the_expiry_loop() -> None:
    node = Node()
    await node.handler.execute("CP1", _start("k2", AT))
    await node.handler.execute("CP1", c.MarkDispatched("k2/dispatch/1", "k2", 1, 1, AT))
    await node.project()
    node.clock.advance(3600)
    await node.dispatcher.expire_overdue()
    await node.project()
    assert await _status(node.documents, "k2") == "failed"


class StoreOutageError(Exception):
    """What a store raises while its database is away."""


class StoreThatGoesAway(MemoryEventStore):
    """Refuses every append while ``away`` (a restarting database)."""

    away = False

    async def append(self, *args: Any, **kwargs: Any) -> Any:
        if self.away:
            raise StoreOutageError("the database is restarting")
        return await super().append(*args, **kwargs)


class LinkDuringOutage(FakeLink):
    """The station answers while the store is away, and the store returns a little later."""

    def __init__(self, store: StoreThatGoesAway) -> None:
        super().__init__("CP1", epoch=1)
        self.store = store

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.store.away = True
        asyncio.get_running_loop().call_later(0.4, setattr, self.store, "away", False)
        return await super().call(action, payload)


def _dispatcher_over(store: StoreThatGoesAway) -> tuple[CommandHandler, Dispatcher]:
    """A handler and a dispatcher over a store that can go away, its outage a store failure."""
    clock, documents = FakeClock(), InMemoryDocumentStore()
    handler = CommandHandler(store, clock)
    twin = TwinService(documents, clock)
    failures = (StoreOutageError,)
    grace = Settings().reconcile_grace_s
    return handler, Dispatcher(
        handler, documents, clock, twin, OCPP16, grace, store_failures=failures
    )


async def test_an_answer_given_while_the_store_is_away_is_recorded_once_it_is_back() -> None:
    store = StoreThatGoesAway()
    handler, dispatcher = _dispatcher_over(store)
    await dispatcher.station_ready(link := LinkDuringOutage(store))
    await handler.execute("CP1", _start("k3", LATER))  # taken by the dispatcher at its commit
    for _ in range(100):
        events = [type(r.event).__name__ for r in await store.read_all(0)]
        if "CommandAccepted" in events:
            break
        await asyncio.sleep(0.05)
    assert link.calls == ["RemoteStartTransaction"]
    assert "CommandAccepted" in events, events


class WitnessLink(FakeLink):
    """Reads the log at the moment each CALL leaves, to see what was committed then."""

    def __init__(self, store: InMemoryEventStore) -> None:
        super().__init__("CP1", epoch=1)
        self.store = store
        self.committed_at_call: list[list[str]] = []

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        log = await self.store.read_all(0)
        self.committed_at_call.append([type(r.event).__name__ for r in log])
        return await super().call(action, payload)


async def test_i3_no_call_leaves_for_a_request_that_was_not_committed() -> None:
    """I3: a request whose append fails is never sent; one that commits is sent only
    after its requesting event, and its dispatch, are in the log."""
    store = StoreThatGoesAway()
    handler, dispatcher = _dispatcher_over(store)
    await dispatcher.station_ready(link := WitnessLink(store))
    store.away = True
    with pytest.raises(StoreOutageError):
        await handler.execute("CP1", _start("lost", LATER))
    store.away = False
    await asyncio.sleep(0.1)
    assert link.calls == []
    await handler.execute("CP1", _start("kept", LATER))
    for _ in range(100):
        if link.calls:
            break
        await asyncio.sleep(0.02)
    assert link.calls == ["RemoteStartTransaction"]
    (committed,) = link.committed_at_call
    assert committed[-2:] == ["RemoteStartRequested", "CommandDispatched"]


class CountingStore(MemoryEventStore):
    """Counts the appends asked of it, a repeat that records nothing included."""

    appends = 0

    async def append(self, *args: Any, **kwargs: Any) -> Any:
        self.appends += 1
        return await super().append(*args, **kwargs)


async def _sent_and_ended_while_the_view_lags(node: Node, link: FakeLink, command_id: str) -> None:
    await node.handler.execute("CP1", _start(command_id, LATER))
    await node.project()  # the view says "requested", and says so until projected again
    await node.dispatcher.station_ready(link)
    for _ in range(100):
        events = [type(r.event).__name__ for r in await node.store.read_all(0)]
        if "CommandAccepted" in events:
            break
        await asyncio.sleep(0.02)
    assert link.calls == ["RemoteStartTransaction"]
    assert await _status(node.documents, command_id) == "requested"


async def test_the_sweep_passes_over_a_command_it_saw_end_while_the_view_still_shows_it() -> None:
    """The safety-net sweep queued every command a lagging view showed as requested; one
    that had ended cost a dispatch appended again as a repeat, and two stream reads."""
    node = Node(store := CountingStore())
    link = FakeLink("CP1", epoch=1)
    await _sent_and_ended_while_the_view_lags(node, link, "k6")
    appends = store.appends
    await node.dispatcher.expire_overdue()
    await asyncio.sleep(0.05)
    assert store.appends == appends
    assert link.calls == ["RemoteStartTransaction"]
    await node.project()
    assert await _status(node.documents, "k6") == "accepted"


async def test_the_sweep_still_sends_a_request_of_another_station_with_an_ended_id() -> None:
    """An Idempotency-Key names one command per station: another station's request
    under the key of one that ended is still queued again by the sweep."""
    lease = [True]
    node = Node(may_send=lambda: lease[0])
    await _sent_and_ended_while_the_view_lags(node, FakeLink("CP1", epoch=1), "k7")
    await node.handler.execute("CP2", _start("k7", LATER))
    await node.project()
    lease[0] = False  # cut from its cluster: what waits is left to the sweep
    await node.dispatcher.station_ready(other := FakeLink("CP2", epoch=1))
    await asyncio.sleep(0.05)
    assert other.calls == []
    lease[0] = True
    await node.dispatcher.expire_overdue()
    for _ in range(100):
        if other.calls:
            break
        await asyncio.sleep(0.02)
    assert other.calls == ["RemoteStartTransaction"]


async def test_a_command_routed_between_nodes_is_recorded_on_both_without_a_conflict() -> None:
    store = MemoryEventStore()
    poster, holder = Node(store), Node(store)
    poster.dispatcher.route_with(holder.dispatcher.take_routed, lambda station_id: False)
    holder.dispatcher.route_with(poster.dispatcher.take_routed, lambda station_id: True)
    link = FakeLink("CP1", epoch=1)
    await holder.dispatcher.station_ready(link)
    await holder.handler.warm("CP1")  # the holder's cache, as after the station's boot
    await poster.handler.warm("CP1")
    for n in (1, 2):  # the second decided after the holder recorded the first's end
        start = c.RequestRemoteStart(
            command_id=f"k{n}", connector_id=n, id_tag=f"T{n}", requested_at=AT, expires_at=LATER
        )
        await poster.handler.execute("CP1", start)
        for _ in range(100):
            if len(link.calls) == n and len(await store.read_stream("station-CP1")) == 3 * n:
                break
            await asyncio.sleep(0.01)
    assert link.calls == ["RemoteStartTransaction"] * 2
    # Each learnt of the other's appends before deciding, not from a failed append.
    assert (poster.handler.conflicts, holder.handler.conflicts) == (0, 0)
