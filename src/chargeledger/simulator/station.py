"""One simulated station, built on the ``ocpp`` package's ``ChargePoint``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, RegistrationStatus, RemoteStartStopStatus

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Counters:
    calls_received: int = 0
    heartbeats: int = 0
    by_action: dict[str, int] = field(default_factory=dict)


class SimulatedStation(ChargePoint):  # type: ignore[misc]
    """Boots, reports its connectors, beats, and accepts remote starts."""

    def __init__(self, station_id: str, connection: Any, connectors: int = 2) -> None:
        super().__init__(station_id, connection)
        self.connectors = connectors
        self.counters = Counters()
        self.accepted = asyncio.Event()

    def _count(self, action: str) -> None:
        self.counters.calls_received += 1
        self.counters.by_action[action] = self.counters.by_action.get(action, 0) + 1

    async def boot(self) -> int:
        response = await self.call(
            call.BootNotification(charge_point_vendor="chargeledger", charge_point_model="sim")
        )
        if response.status != RegistrationStatus.accepted:
            raise RuntimeError(f"{self.id}: boot {response.status}")
        self.accepted.set()
        for connector in range(1, self.connectors + 1):
            await self.status(connector, "Available")
        return int(response.interval)

    async def status(self, connector: int, status: str) -> None:
        await self.call(
            call.StatusNotification(
                connector_id=connector, error_code="NoError", status=status, timestamp=_now()
            )
        )

    async def beat(self, interval: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            await self.call(call.Heartbeat())
            self.counters.heartbeats += 1

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        self._count("RemoteStartTransaction")
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)
