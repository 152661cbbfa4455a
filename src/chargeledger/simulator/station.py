"""One connection of a simulated station, built on the ``ocpp`` package's
``ChargePoint``; what outlives the connection (connectors, sessions, the outbox) is
its ``Charger``.

It behaves like a real OCPP 1.6 station: it boots, reports its connectors, beats,
sends its outbox in order (transaction messages kept across lost connections),
accepts a remote start only on a free connector and charges (see ``charger``), stops
when asked; it unlocks, resets (stops its sessions, then reboots: the fleet reconnects
it), changes availability (Scheduled while charging), answers TriggerMessage by sending
what was asked, keeps a configuration and clears its authorization cache; the other
profiles' operations it answers as ``profiles`` says.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, RegistrationStatus

from chargeledger.simulator.charger import Charger
from chargeledger.simulator.charger_parts import Behaviour, Connector, Counters, now_iso
from chargeledger.simulator.outbox import Message, send_in_order
from chargeledger.simulator.profiles import ProfileOperations

__all__ = ["Behaviour", "Connector", "Counters", "SimulatedStation"]


FREE = ("Available", "Preparing")


class SimulatedStation(ProfileOperations, ChargePoint):  # type: ignore[misc]
    charger: Charger

    def __init__(
        self, charger: Charger | str, connection: Any, behaviour: Behaviour | None = None
    ) -> None:
        if isinstance(charger, str):
            charger = Charger(charger, behaviour)
        super().__init__(
            charger.station_id, connection, response_timeout=charger.behaviour.response_timeout_s
        )
        self.charger = charger
        self.behaviour = charger.behaviour
        self.reboot = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    @property
    def connectors(self) -> dict[int, Connector]:
        return self.charger.connectors

    @property
    def counters(self) -> Counters:
        return self.charger.counters

    @property
    def configuration(self) -> dict[str, str]:
        return self.charger.configuration

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
        if response is None or response.status != RegistrationStatus.accepted:
            raise RuntimeError(f"{self.id}: boot {getattr(response, 'status', 'CALLERROR')}")
        self.configuration["HeartbeatInterval"] = str(response.interval)
        for connector_id, connector in self.connectors.items():
            await self.call(
                call.StatusNotification(
                    connector_id=connector_id,
                    error_code="NoError",
                    status=connector.status,
                    timestamp=now_iso(),
                )
            )
        self.charger.attach(self)
        return int(response.interval)

    async def status(self, connector_id: int, status: str) -> None:
        self.charger.set_status(connector_id, status)

    async def beat(self, stop: asyncio.Event, interval_override: float | None = None) -> None:
        while not stop.is_set() and not self.reboot.is_set():
            interval = interval_override or float(self.configuration["HeartbeatInterval"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            await self.call(call.Heartbeat())
            self.counters.heartbeats += 1

    async def drain(self) -> None:
        """Send the outbox in order (``outbox.send_in_order``) until the connection ends."""
        await send_in_order(self, self.charger.outbox, self.configuration, self._answered)

    def _answered(self, message: Message, answer: Any) -> None:
        if message.action == "StartTransaction" and message.transaction_ref is not None:
            self.charger.started(message.transaction_ref, answer.transaction_id, answer.id_tag_info)

    # -- what the CSMS asks ---------------------------------------------------

    def _target(self, connector_id: int | None) -> int | None:
        if connector_id:
            return connector_id
        return next(
            (
                n
                for n, c in self.connectors.items()
                if c.status in FREE and c.transaction_ref is None
            ),
            None,
        )

    def _free(self, target: int | None) -> bool:
        if target not in self.connectors:
            return False
        connector = self.connectors[target]
        return connector.status in FREE and connector.transaction_ref is None

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        self._count("RemoteStartTransaction")
        ok = self._free(self._target(connector_id))
        return call_result.RemoteStartTransaction(status="Accepted" if ok else "Rejected")

    @after(Action.remote_start_transaction)
    async def after_remote_start(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> None:
        target = self._target(connector_id)
        if target is not None and self._free(target):
            self.charger.remote_start(target, id_tag)

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int, **_: Any) -> Any:
        self._count("RemoteStopTransaction")
        stopped = self.charger.remote_stop(transaction_id)
        return call_result.RemoteStopTransaction(status="Accepted" if stopped else "Rejected")

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
        reason = "HardReset" if type == "Hard" else "SoftReset"
        for connector_id, connector in self.connectors.items():
            self.charger.stop_transaction(connector_id, reason)
            if connector.remote:
                self.charger.unplug(connector_id)
        self.reboot.set()

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str, **_: Any) -> Any:
        self._count("ChangeAvailability")
        targets = list(self.connectors) if connector_id == 0 else [connector_id]
        if any(t not in self.connectors for t in targets):
            return call_result.ChangeAvailability(status="Rejected")
        busy = any(self.connectors[t].transaction_ref is not None for t in targets)
        if busy and type == "Inoperative":
            for t in targets:
                self.connectors[t].inoperative_after_charge = True
            return call_result.ChangeAvailability(status="Scheduled")
        return call_result.ChangeAvailability(status="Accepted")

    @after(Action.change_availability)
    async def after_change_availability(self, connector_id: int, type: str, **_: Any) -> None:
        targets = list(self.connectors) if connector_id == 0 else [connector_id]
        for t in targets:
            if t in self.connectors and self.connectors[t].transaction_ref is None:
                self.charger.set_status(t, "Available" if type == "Operative" else "Unavailable")

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
                    self.charger.set_status(n, connector.status)
        elif requested_message == "MeterValues":
            for n, connector in self.connectors.items():
                if connector_id in (None, 0, n):
                    self.charger.outbox.put(
                        "MeterValues",
                        {"connector_id": n, "meter_value": [self.charger.meter_sample(n)]},
                        connector.transaction_ref,
                    )

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
        self.charger.cache.clear()
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        self._count("DataTransfer")
        return call_result.DataTransfer(status="UnknownVendorId")
