"""One connection of a simulated OCPP 2.0.1 station, on the ``ocpp`` package's v201
``ChargePoint``, with the fleet's ``Charger`` for what outlives the connection (its
EVSEs: the charger's connectors, their meters, the counters).

A first 2.0.1 station, simpler than the 1.6 one (``station``): it boots, reports each
EVSE's connector, beats, and on RequestStartTransaction charges a free EVSE (a
TransactionEvent Started, an Updated with its meter every ``meter_interval_s``, an
Ended when the car leaves or a RequestStopTransaction asks); it answers Reset
(and reboots), ChangeAvailability, UnlockConnector, TriggerMessage, ClearCache,
GetVariables and SetVariables. It keeps no outbox: a session cut by a lost
connection ends there (``Ended`` is not sent again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from chargeledger.simulator.charger import Charger
from chargeledger.simulator.charger_parts import Connector, now_iso

_transactions = itertools.count(1)


class SimulatedStation201(ChargePoint):  # type: ignore[misc]
    def __init__(self, charger: Charger, connection: Any) -> None:
        super().__init__(
            charger.station_id, connection, response_timeout=charger.behaviour.response_timeout_s
        )
        self.charger = charger
        self.behaviour = charger.behaviour
        self.reboot = asyncio.Event()
        self._seq_no = itertools.count(0)
        self._sessions: dict[int, tuple[str, asyncio.Task[None]]] = {}
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
        for task in list(self._background):
            task.cancel()
        for evse in self.evses.values():
            evse.transaction_ref = None
        self._sessions.clear()

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
        return int(response.interval)

    async def _status(self, evse_id: int) -> None:
        charging = self.evses[evse_id].transaction_ref is not None
        await self.call(
            call.StatusNotification(
                timestamp=now_iso(),
                connector_status="Occupied" if charging else "Available",
                evse_id=evse_id,
                connector_id=1,
            )
        )

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
        """No outbox to send: waits for the connection to end."""
        await asyncio.Event().wait()

    def _count(self, action: str) -> None:
        counters = self.charger.counters
        counters.calls_received += 1
        counters.by_action[action] = counters.by_action.get(action, 0) + 1

    # -- charging ----------------------------------------------------------------------

    @on(Action.request_start_transaction)
    async def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, **rest: Any
    ) -> Any:
        self._count("RequestStartTransaction")
        free = [n for n, e in self.evses.items() if e.transaction_ref is None]
        evse_id = rest.get("evse_id") or (free[0] if free else 0)
        if evse_id not in free:
            return call_result.RequestStartTransaction(status="Rejected")
        transaction_id = f"{self.id}-{next(_transactions)}"
        self.evses[evse_id].transaction_ref = evse_id
        task = self._spawn(self._charge(evse_id, transaction_id, id_token, remote_start_id))
        self._sessions[evse_id] = (transaction_id, task)
        return call_result.RequestStartTransaction(status="Accepted", transaction_id=None)

    @on(Action.request_stop_transaction)
    async def on_request_stop(self, transaction_id: str, **rest: Any) -> Any:
        self._count("RequestStopTransaction")
        for _, (running, task) in list(self._sessions.items()):
            if running == transaction_id:
                task.cancel()
                return call_result.RequestStopTransaction(status="Accepted")
        return call_result.RequestStopTransaction(status="Rejected")

    async def _charge(
        self, evse_id: int, transaction_id: str, id_token: dict[str, Any], remote_start_id: int
    ) -> None:
        evse = self.evses[evse_id]
        info = {"transaction_id": transaction_id, "remote_start_id": remote_start_id}
        await asyncio.sleep(0)  # our answer to the request goes out first
        await self._event("Started", "RemoteStart", evse_id, info, evse, id_token)
        self.charger.counters.transactions += 1
        await self._status(evse_id)
        low, high = self.behaviour.charge_seconds or (3600.0, 3600.0)
        reason, trigger = "EVDisconnected", "EVCommunicationLost"
        try:
            async with asyncio.timeout(self.charger.rng.uniform(low, high)):
                while True:
                    await asyncio.sleep(self.behaviour.meter_interval_s)
                    evse.meter_wh += self.behaviour.power_w * self.behaviour.meter_interval_s / 3600
                    await self._event("Updated", "MeterValuePeriodic", evse_id, info, evse)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            reason, trigger = "Remote", "RemoteStop"
        await self._end(evse_id, info, evse, reason, trigger)

    async def _end(
        self, evse_id: int, info: dict[str, Any], evse: Connector, reason: str, trigger: str
    ) -> None:
        with contextlib.suppress(Exception):
            ended = {**info, "stopped_reason": reason}
            await self._event("Ended", trigger, evse_id, ended, evse)
            self.charger.counters.stops += 1
        evse.transaction_ref = None
        self._sessions.pop(evse_id, None)
        with contextlib.suppress(Exception):
            await self._status(evse_id)

    async def _event(
        self,
        event_type: str,
        trigger: str,
        evse_id: int,
        info: dict[str, Any],
        evse: Connector,
        id_token: dict[str, Any] | None = None,
    ) -> None:
        reading = {"value": round(evse.meter_wh), "measurand": "Energy.Active.Import.Register"}
        await self.call(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=now_iso(),
                trigger_reason=trigger,
                seq_no=next(self._seq_no),
                transaction_info=info,
                meter_value=[{"timestamp": now_iso(), "sampled_value": [reading]}],
                evse={"id": evse_id, "connector_id": 1},
                id_token=id_token,
            )
        )

    # -- the rest --------------------------------------------------------------------

    @on(Action.reset)
    async def on_reset(self, type: str, **rest: Any) -> Any:
        self._count("Reset")
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, **payload: Any) -> None:
        for _, task in list(self._sessions.values()):
            task.cancel()
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
    async def after_trigger(self, requested_message: str, **rest: Any) -> None:
        if requested_message == "Heartbeat":
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
