"""One connection of a simulated OCPP 2.0.1 station, on the ``ocpp`` package's v201
``ChargePoint``, with the fleet's ``Charger`` for what outlives the connection (its
EVSEs: the charger's connectors, their meters, the counters, and its sessions,
``transactions201``, whose TransactionEvents wait in the charger's outbox).

A 2.0.1 station, simpler than the 1.6 one (``station``): it boots, reports each
EVSE's connector, beats, sends its outbox in order (a session cut off by a lost
network goes on, and its events go, marked ``offline``, on the next connection), and
on RequestStartTransaction charges a free EVSE until its car leaves or a
RequestStopTransaction asks; it answers Reset (of the station: ends its sessions and
reboots; of one EVSE: ends that EVSE's session, or, OnIdle, is Scheduled while one
runs), ChangeAvailability, UnlockConnector, TriggerMessage (Heartbeat,
StatusNotification, and TransactionEvent: an Updated, triggerReason Trigger, for each
running session), ClearCache, GetVariables and SetVariables; every other message the
CSMS may send a 2.0.1 station is answered by ``smart_charging201``, ``reports201`` and
``operations201``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from chargeledger.simulator.charger import Charger
from chargeledger.simulator.charger_parts import Connector
from chargeledger.simulator.operations201 import Operations201
from chargeledger.simulator.outbox import send_in_order
from chargeledger.simulator.reports201 import Reports201
from chargeledger.simulator.smart_charging201 import SmartCharging201
from chargeledger.simulator.transactions201 import Transactions201


class SimulatedStation201(SmartCharging201, Reports201, Operations201, ChargePoint):  # type: ignore[misc]
    def __init__(self, charger: Charger, connection: Any) -> None:
        if charger.transactions201 is None:
            raise ValueError(f"{charger.station_id}: a 2.0.1 station needs a 2.0.1 Charger")
        super().__init__(
            charger.station_id, connection, response_timeout=charger.behaviour.response_timeout_s
        )
        self.charger: Charger = charger
        self.transactions: Transactions201 = charger.transactions201
        self.behaviour = charger.behaviour
        self.reboot = asyncio.Event()
        self._claimed: dict[int, int] = {}
        """The EVSE of each remote start accepted (by remoteStartId), until it begins."""
        self._background: set[asyncio.Task[None]] = set()

    @property
    def evses(self) -> dict[int, Connector]:
        return self.charger.connectors

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def stop_background(self) -> None:
        """The connection ended: what it started stops; the sessions go on."""
        for task in list(self._background):
            task.cancel()
        self._claimed.clear()

    async def boot(self) -> int:
        response = await self.call(
            call.BootNotification(
                charging_station={
                    "vendor_name": "chargeledger",
                    "model": "simulator-201",
                    "firmware_version": "1.0.0",
                },
                reason="PowerUp",
            )
        )
        if response is None or response.status != "Accepted":
            raise RuntimeError(f"{self.id}: boot {getattr(response, 'status', 'CALLERROR')}")
        self.charger.configuration["HeartbeatInterval"] = str(response.interval)
        for evse_id in self.evses:
            await self._status(evse_id)
        self.charger.attach(self)
        return int(response.interval)

    async def _status(self, evse_id: int) -> None:
        await self.call(call.StatusNotification(**self.transactions.status_payload(evse_id)))

    async def beat(self, stop: asyncio.Event, interval_override: float | None = None) -> None:
        while not stop.is_set() and not self.reboot.is_set():
            interval = interval_override or float(self.charger.configuration["HeartbeatInterval"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            await self.call(call.Heartbeat())
            self.charger.counters.heartbeats += 1

    async def drain(self) -> None:
        """Send the outbox in order (``outbox.send_in_order``) until the connection ends."""
        await send_in_order(self, self.charger.outbox, self.charger.configuration)

    def _count(self, action: str) -> None:
        counters = self.charger.counters
        counters.calls_received += 1
        counters.by_action[action] = counters.by_action.get(action, 0) + 1

    # -- charging ----------------------------------------------------------------------

    def _free(self) -> list[int]:
        return [n for n in self.transactions.free_evses() if n not in self._claimed.values()]

    @on(Action.request_start_transaction)
    async def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, **rest: Any
    ) -> Any:
        self._count("RequestStartTransaction")
        free = self._free()
        evse_id = rest.get("evse_id") or (free[0] if free else 0)
        if evse_id not in free:
            return call_result.RequestStartTransaction(status="Rejected")
        self._claimed[remote_start_id] = evse_id
        return call_result.RequestStartTransaction(status="Accepted")

    @after(Action.request_start_transaction)
    async def after_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, **rest: Any
    ) -> None:
        """Once the answer went: the session begins on the EVSE claimed for it."""
        evse_id = self._claimed.pop(remote_start_id, None)
        if evse_id is not None:
            self.transactions.start(evse_id, id_token, "RemoteStart", remote_start_id)

    @on(Action.request_stop_transaction)
    async def on_request_stop(self, transaction_id: str, **rest: Any) -> Any:
        self._count("RequestStopTransaction")
        stopped = self.transactions.stop_transaction(transaction_id, "Remote", "RemoteStop")
        return call_result.RequestStopTransaction(status="Accepted" if stopped else "Rejected")

    # -- the rest --------------------------------------------------------------------

    @on(Action.reset)
    async def on_reset(self, type: str, evse_id: int | None = None, **rest: Any) -> Any:
        self._count("Reset")
        if evse_id is not None and evse_id not in self.evses:
            return call_result.Reset(status="Rejected")
        if evse_id is not None and type == "OnIdle" and evse_id in self.transactions.sessions:
            return call_result.Reset(status="Scheduled")  # once its session ends
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str, evse_id: int | None = None, **payload: Any) -> None:
        if evse_id is not None:  # that EVSE alone: the station stays up
            stopped = type == "Immediate" and self.transactions.stop(
                evse_id, "ImmediateReset", "ResetCommand"
            )
            if evse_id in self.evses and not stopped:
                self.transactions.status(evse_id)  # back, as it was
            return
        for evse_id in list(self.transactions.sessions):
            self.transactions.stop(evse_id, "ImmediateReset", "ResetCommand")
        await asyncio.sleep(0.1)
        self.reboot.set()

    @on(Action.change_availability)
    async def on_change_availability(self, **payload: Any) -> Any:
        self._count("ChangeAvailability")
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.unlock_connector)
    async def on_unlock(self, **payload: Any) -> Any:
        self._count("UnlockConnector")
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.trigger_message)
    async def on_trigger(self, requested_message: str, **rest: Any) -> Any:
        self._count("TriggerMessage")
        if requested_message not in ("Heartbeat", "StatusNotification", "TransactionEvent"):
            return call_result.TriggerMessage(status="NotImplemented")
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    async def after_trigger(
        self, requested_message: str, evse: dict[str, Any] | None = None, **rest: Any
    ) -> None:
        if requested_message == "TransactionEvent":
            self.transactions.report((evse or {}).get("id"))
        elif requested_message == "Heartbeat":
            await self.call(call.Heartbeat())
        elif requested_message == "StatusNotification":
            for evse_id in self.evses:
                await self._status(evse_id)

    @on(Action.clear_cache)
    async def on_clear_cache(self, **payload: Any) -> Any:
        self._count("ClearCache")
        return call_result.ClearCache(status="Accepted")

    @on(Action.get_variables)
    async def on_get_variables(self, get_variable_data: list[dict[str, Any]], **rest: Any) -> Any:
        self._count("GetVariables")
        settings = self.charger.configuration
        results = []
        for wanted in get_variable_data:
            value = settings.get(wanted["variable"]["name"])
            result = {
                "attribute_status": "Accepted" if value is not None else "UnknownVariable",
                "component": wanted["component"],
                "variable": wanted["variable"],
            }
            if value is not None:
                result["attribute_value"] = value
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    async def on_set_variables(self, set_variable_data: list[dict[str, Any]], **rest: Any) -> Any:
        self._count("SetVariables")
        results = []
        for wanted in set_variable_data:
            self.charger.configuration[wanted["variable"]["name"]] = wanted["attribute_value"]
            results.append(
                {
                    "attribute_status": "Accepted",
                    "component": wanted["component"],
                    "variable": wanted["variable"],
                }
            )
        return call_result.SetVariables(set_variable_result=results)
