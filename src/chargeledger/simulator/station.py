"""One simulated station, built on the ``ocpp`` package's ``ChargePoint``.

It behaves like a real OCPP 1.6 station: it boots, reports its connectors, beats,
accepts a remote start only on an available connector, then authorizes nothing
(remote starts are pre-authorized), starts a transaction, reports Charging and
meter values, and stops after a while or when asked; it unlocks, resets (reboots:
the fleet reconnects it), changes availability (Scheduled while charging),
answers TriggerMessage by sending what was asked, and keeps a configuration; the
other profiles' operations it answers as ``profiles`` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, RegistrationStatus

from chargeledger.simulator.profiles import ProfileOperations

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Counters:
    calls_received: int = 0
    heartbeats: int = 0
    transactions: int = 0
    by_action: dict[str, int] = field(default_factory=dict)


@dataclass
class Connector:
    status: str = "Available"
    transaction_id: int | None = None
    id_tag: str | None = None
    inoperative_after_charge: bool = False
    charging: asyncio.Task[None] | None = None


@dataclass
class Behaviour:
    connectors: int = 2
    charge_seconds: tuple[float, float] = (30.0, 120.0)
    meter_interval_s: float = 10.0
    power_w: float = 11_000.0


class SimulatedStation(ProfileOperations, ChargePoint):  # type: ignore[misc]
    def __init__(
        self, station_id: str, connection: Any, behaviour: Behaviour | None = None
    ) -> None:
        super().__init__(station_id, connection)
        self.behaviour = behaviour or Behaviour()
        self.counters = Counters()
        self.connectors = {n: Connector() for n in range(1, self.behaviour.connectors + 1)}
        self.meter_wh = float(random.randint(0, 1_000_000))
        self.configuration: dict[str, str] = {
            "HeartbeatInterval": "300",
            "MeterValueSampleInterval": str(int(self.behaviour.meter_interval_s)),
            "NumberOfConnectors": str(self.behaviour.connectors),
            "AuthorizeRemoteTxRequests": "false",
        }
        self.reboot = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    def _count(self, action: str) -> None:
        self.counters.calls_received += 1
        self.counters.by_action[action] = self.counters.by_action.get(action, 0) + 1

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def stop_background(self) -> None:
        for task in list(self._background):
            task.cancel()

    async def boot(self) -> int:
        response = await self.call(
            call.BootNotification(
                charge_point_vendor="chargeledger",
                charge_point_model="simulator",
                firmware_version="1.0.0",
            )
        )
        if response.status != RegistrationStatus.accepted:
            raise RuntimeError(f"{self.id}: boot {response.status}")
        self.configuration["HeartbeatInterval"] = str(response.interval)
        for connector_id, connector in self.connectors.items():
            await self.status(connector_id, connector.status)
        return int(response.interval)

    async def status(self, connector_id: int, status: str) -> None:
        if connector_id in self.connectors:
            self.connectors[connector_id].status = status
        await self.call(
            call.StatusNotification(
                connector_id=connector_id, error_code="NoError", status=status, timestamp=_now()
            )
        )

    async def beat(self, stop: asyncio.Event, interval_override: float | None = None) -> None:
        while not stop.is_set() and not self.reboot.is_set():
            interval = interval_override or float(self.configuration["HeartbeatInterval"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            await self.call(call.Heartbeat())
            self.counters.heartbeats += 1

    # -- charging -------------------------------------------------------------

    async def _charge(self, connector_id: int, id_tag: str) -> None:
        connector = self.connectors[connector_id]
        await self.status(connector_id, "Preparing")
        started = await self.call(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=int(self.meter_wh),
                timestamp=_now(),
            )
        )
        connector.transaction_id = started.transaction_id
        connector.id_tag = id_tag
        self.counters.transactions += 1
        if started.id_tag_info["status"] != "Accepted":
            await self._finish(connector_id, "DeAuthorized")  # as OCPP 1.6 asks (4.8)
            return
        await self.status(connector_id, "Charging")
        low, high = self.behaviour.charge_seconds
        deadline = asyncio.get_running_loop().time() + random.uniform(low, high)
        reason = "EVDisconnected"
        try:
            while asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(self.behaviour.meter_interval_s)
                self.meter_wh += self.behaviour.power_w * self.behaviour.meter_interval_s / 3600
                await self.call(
                    call.MeterValues(
                        connector_id=connector_id,
                        transaction_id=started.transaction_id,
                        meter_value=[
                            {
                                "timestamp": _now(),
                                "sampledValue": [
                                    {
                                        "value": str(int(self.meter_wh)),
                                        "measurand": "Energy.Active.Import.Register",
                                        "unit": "Wh",
                                    }
                                ],
                            }
                        ],
                    )
                )
        except asyncio.CancelledError:
            reason = "Remote"
        await self._finish(connector_id, reason)

    async def _finish(self, connector_id: int, reason: str) -> None:
        connector = self.connectors[connector_id]
        if connector.transaction_id is None:
            return
        await self.call(
            call.StopTransaction(
                meter_stop=int(self.meter_wh),
                timestamp=_now(),
                transaction_id=connector.transaction_id,
                reason=reason,
                id_tag=connector.id_tag,
            )
        )
        connector.transaction_id = None
        connector.id_tag = None
        await self.status(connector_id, "Finishing")
        final = "Unavailable" if connector.inoperative_after_charge else "Available"
        connector.inoperative_after_charge = False
        await self.status(connector_id, final)

    # -- what the CSMS asks ---------------------------------------------------

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        self._count("RemoteStartTransaction")
        target = connector_id or next(
            (n for n, c in self.connectors.items() if c.status == "Available"), None
        )
        ok = target in self.connectors and self.connectors[target].status == "Available"
        return call_result.RemoteStartTransaction(status="Accepted" if ok else "Rejected")

    @after(Action.remote_start_transaction)
    async def after_remote_start(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> None:
        target = connector_id or next(
            (n for n, c in self.connectors.items() if c.status == "Available"), None
        )
        if target in self.connectors and self.connectors[target].status == "Available":
            self.connectors[target].status = "Preparing"
            self.connectors[target].charging = self._spawn(self._charge(target, id_tag))

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int, **_: Any) -> Any:
        self._count("RemoteStopTransaction")
        for connector in self.connectors.values():
            if connector.transaction_id == transaction_id and connector.charging is not None:
                connector.charging.cancel()
                return call_result.RemoteStopTransaction(status="Accepted")
        return call_result.RemoteStopTransaction(status="Rejected")

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id: int, **_: Any) -> Any:
        self._count("UnlockConnector")
        status = "Unlocked" if connector_id in self.connectors else "NotSupported"
        return call_result.UnlockConnector(status=status)

    @on(Action.reset)
    async def on_reset(self, type: str, **_: Any) -> Any:
        self._count("Reset")
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str, **_: Any) -> None:
        for connector_id, connector in self.connectors.items():
            if connector.charging is not None and not connector.charging.done():
                connector.charging.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await connector.charging
            await self._finish(connector_id, "HardReset" if type == "Hard" else "SoftReset")
        self.reboot.set()

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str, **_: Any) -> Any:
        self._count("ChangeAvailability")
        targets = list(self.connectors) if connector_id == 0 else [connector_id]
        if any(t not in self.connectors for t in targets):
            return call_result.ChangeAvailability(status="Rejected")
        busy = any(self.connectors[t].transaction_id is not None for t in targets)
        if busy and type == "Inoperative":
            for t in targets:
                self.connectors[t].inoperative_after_charge = True
            return call_result.ChangeAvailability(status="Scheduled")
        return call_result.ChangeAvailability(status="Accepted")

    @after(Action.change_availability)
    async def after_change_availability(self, connector_id: int, type: str, **_: Any) -> None:
        targets = list(self.connectors) if connector_id == 0 else [connector_id]
        for t in targets:
            if t in self.connectors and self.connectors[t].transaction_id is None:
                await self.status(t, "Available" if type == "Operative" else "Unavailable")

    @on(Action.trigger_message)
    async def on_trigger(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        self._count("TriggerMessage")
        known = {"BootNotification", "Heartbeat", "StatusNotification", "MeterValues"}
        status = "Accepted" if requested_message in known else "NotImplemented"
        return call_result.TriggerMessage(status=status)

    @after(Action.trigger_message)
    async def after_trigger(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> None:
        if requested_message == "Heartbeat":
            await self.call(call.Heartbeat())
        elif requested_message == "BootNotification":
            await self.boot()
        elif requested_message == "StatusNotification":
            for n, connector in self.connectors.items():
                if connector_id in (None, 0, n):
                    await self.status(n, connector.status)

    @on(Action.get_configuration)
    async def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        self._count("GetConfiguration")
        wanted = key or list(self.configuration)
        known = [
            {"key": k, "readonly": k == "NumberOfConnectors", "value": self.configuration[k]}
            for k in wanted
            if k in self.configuration
        ]
        unknown = [k for k in wanted if k not in self.configuration]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        self._count("ChangeConfiguration")
        if key == "NumberOfConnectors":
            return call_result.ChangeConfiguration(status="Rejected")
        if key not in self.configuration:
            return call_result.ChangeConfiguration(status="NotSupported")
        self.configuration[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.clear_cache)
    async def on_clear_cache(self, **_: Any) -> Any:
        self._count("ClearCache")
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        self._count("DataTransfer")
        return call_result.DataTransfer(status="UnknownVendorId")
