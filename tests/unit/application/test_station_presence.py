"""The ``StationPresence`` port over the twin and the dispatcher: what the gateway
says of a connection reaches the twin (connected, last message) and the dispatcher
(which link our CALLs go out on)."""

from __future__ import annotations

from typing import Any

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.application.ports import StationLink
from chargeledger.application.station_presence import TwinAndDispatcher
from chargeledger.application.twin_service import TwinService
from tests.fakes import FakeClock


class Link:
    def __init__(self, station_id: str, epoch: int) -> None:
        self.station_id = station_id
        self.epoch = epoch

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {}


class RecordingDispatcher:
    def __init__(self) -> None:
        self.seen: list[tuple[str, StationLink]] = []

    async def station_ready(self, link: StationLink) -> None:
        self.seen.append(("ready", link))

    def station_gone(self, link: StationLink) -> None:
        self.seen.append(("gone", link))


def presence() -> tuple[TwinAndDispatcher, TwinService, RecordingDispatcher]:
    twin = TwinService(InMemoryDocumentStore(), FakeClock())
    dispatcher = RecordingDispatcher()
    return TwinAndDispatcher(twin, dispatcher), twin, dispatcher  # type: ignore[arg-type]


async def test_a_connection_coming_and_going_reaches_the_twin_and_the_dispatcher() -> None:
    stations, twin, dispatcher = presence()
    link = Link("CP-1", epoch=7)
    assert not stations.is_known("CP-1")
    stations.connected(link, "ocpp1.6")
    stations.message_received("CP-1")
    await stations.ready(link)
    current = twin.get("CP-1")
    assert current is not None and current.connected and stations.is_known("CP-1")
    assert twin.last_message_at("CP-1") is not None
    stations.disconnected(link)
    current = twin.get("CP-1")
    assert current is not None and not current.connected
    assert dispatcher.seen == [("ready", link), ("gone", link)]


async def test_a_superseded_connection_leaves_the_dispatcher_and_not_the_twin() -> None:
    stations, twin, dispatcher = presence()
    older, newer = Link("CP-1", epoch=1), Link("CP-1", epoch=2)
    stations.connected(older, "ocpp1.6")
    stations.superseded(older)
    stations.connected(newer, "ocpp1.6")
    stations.disconnected(older)  # its socket closes later: the newer stays connected
    current = twin.get("CP-1")
    assert current is not None and current.connected
    assert dispatcher.seen == [("gone", older), ("gone", older)]
