"""The node's side of the ``StationPresence`` port: a station's connection coming,
speaking and going reaches its twin (connected, last message) and the dispatcher
(the link our CALLs go out on)."""

from __future__ import annotations

from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.ports import StationLink
from chargeledger.application.twin_service import TwinService


class TwinAndDispatcher:
    """Implements ``StationPresence`` over the twin and the dispatcher."""

    def __init__(self, twin: TwinService, dispatcher: Dispatcher) -> None:
        self._twin = twin
        self._dispatcher = dispatcher

    def is_known(self, station_id: str) -> bool:
        return self._twin.get(station_id) is not None

    def connected(self, link: StationLink, protocol: str | None) -> None:
        self._twin.connected(link.station_id, link.epoch, protocol)

    async def ready(self, link: StationLink) -> None:
        await self._dispatcher.station_ready(link)

    def message_received(self, station_id: str) -> None:
        self._twin.message_received(station_id)

    def superseded(self, link: StationLink) -> None:
        self._dispatcher.station_gone(link)

    def disconnected(self, link: StationLink) -> None:
        self._dispatcher.station_gone(link)
        # Unconditional: the twin ignores a close from a connection older than the one
        # it knows, and a newer connection that gave up must not leave it "connected".
        self._twin.disconnected(link.station_id, link.epoch)
