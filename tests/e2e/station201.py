"""Stations that speak OCPP 2.0.1, made from the ``ocpp`` package's v201 ``ChargePoint``:
they answer our CALLs as told and note what they received."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.typing import Subprotocol

from tests.e2e.conftest import ServedNode

OCPP201 = Subprotocol("ocpp2.0.1")
OCPP16 = Subprotocol("ocpp1.6")


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Station201(ChargePoint):  # type: ignore[misc]
    """A 2.0.1 station under test. ``answers`` holds the status it gives each CSMS
    CALL (``Accepted`` unless told otherwise); ``received`` what it was asked."""

    def __init__(self, station_id: str, connection: Any) -> None:
        super().__init__(station_id, connection)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, str] = {}
        self.seq_no = 0

    def _got(self, action: str, payload: dict[str, Any]) -> str:
        self.received.append((action, payload))
        return self.answers.get(action, "Accepted")

    @on(Action.request_start_transaction)
    async def on_request_start(self, **payload: Any) -> Any:
        return call_result.RequestStartTransaction(
            status=self._got("RequestStartTransaction", payload)
        )

    @on(Action.request_stop_transaction)
    async def on_request_stop(self, **payload: Any) -> Any:
        return call_result.RequestStopTransaction(
            status=self._got("RequestStopTransaction", payload)
        )

    @on(Action.reset)
    async def on_reset(self, **payload: Any) -> Any:
        return call_result.Reset(status=self._got("Reset", payload))

    @on(Action.change_availability)
    async def on_change_availability(self, **payload: Any) -> Any:
        return call_result.ChangeAvailability(status=self._got("ChangeAvailability", payload))

    @on(Action.unlock_connector)
    async def on_unlock(self, **payload: Any) -> Any:
        status = self._got("UnlockConnector", payload)
        return call_result.UnlockConnector(status="Unlocked" if status == "Accepted" else status)

    @on(Action.trigger_message)
    async def on_trigger(self, **payload: Any) -> Any:
        return call_result.TriggerMessage(status=self._got("TriggerMessage", payload))

    @on(Action.clear_cache)
    async def on_clear_cache(self, **payload: Any) -> Any:
        return call_result.ClearCache(status=self._got("ClearCache", payload))

    @on(Action.get_variables)
    async def on_get_variables(self, **payload: Any) -> Any:
        self._got("GetVariables", payload)
        results = [
            {
                "attribute_status": "Accepted",
                "attribute_value": "300",
                "component": wanted["component"],
                "variable": wanted["variable"],
            }
            for wanted in payload["get_variable_data"]
        ]
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    async def on_set_variables(self, **payload: Any) -> Any:
        status = self._got("SetVariables", payload)
        results = [
            {
                "attribute_status": status,
                "component": wanted["component"],
                "variable": wanted["variable"],
            }
            for wanted in payload["set_variable_data"]
        ]
        return call_result.SetVariables(set_variable_result=results)

    @on(Action.reserve_now)
    async def on_reserve_now(self, **payload: Any) -> Any:
        return call_result.ReserveNow(status=self._got("ReserveNow", payload))

    @on(Action.get_transaction_status)
    async def on_get_transaction_status(self, **payload: Any) -> Any:
        self._got("GetTransactionStatus", payload)
        return call_result.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=True)

    @on(Action.get_base_report)
    async def on_get_base_report(self, **payload: Any) -> Any:
        return call_result.GetBaseReport(status=self._got("GetBaseReport", payload))

    @after(Action.get_base_report)
    async def report(self, request_id: int, **payload: Any) -> None:
        if self.answers.get("GetBaseReport", "Accepted") != "Accepted":
            return
        await self.call(
            call.NotifyReport(
                request_id=request_id,
                generated_at=now(),
                seq_no=0,
                report_data=[
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                        "variable_attribute": [{"value": "300", "mutability": "ReadWrite"}],
                    }
                ],
            )
        )

    async def boot(self, reason: str = "PowerUp") -> Any:
        return await self.call(
            call.BootNotification(
                charging_station={"model": "e2e-201", "vendor_name": "test"}, reason=reason
            )
        )

    async def status(self, evse_id: int, connector_id: int, status: str) -> Any:
        return await self.call(
            call.StatusNotification(
                timestamp=now(),
                connector_status=status,
                evse_id=evse_id,
                connector_id=connector_id,
            )
        )

    async def transaction_event(
        self,
        event_type: str,
        transaction_id: str,
        seq_no: int,
        *,
        wh: float | None = None,
        evse_id: int = 1,
        id_token: str | None = None,
        trigger: str | None = None,
        timestamp: str | None = None,
        offline: bool | None = None,
        remote_start_id: int | None = None,
        stopped_reason: str | None = None,
    ) -> Any:
        info: dict[str, Any] = {"transaction_id": transaction_id}
        if remote_start_id is not None:
            info["remote_start_id"] = remote_start_id
        if stopped_reason is not None:
            info["stopped_reason"] = stopped_reason
        meter = None
        if wh is not None:
            meter = [
                {
                    "timestamp": timestamp or now(),
                    "sampled_value": [{"value": wh, "measurand": "Energy.Active.Import.Register"}],
                }
            ]
        default_trigger = {"Started": "Authorized", "Updated": "MeterValuePeriodic"}
        return await self.call(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=timestamp or now(),
                trigger_reason=trigger or default_trigger.get(event_type, "EVCommunicationLost"),
                seq_no=seq_no,
                transaction_info=info,
                meter_value=meter,
                offline=offline,
                evse={"id": evse_id, "connector_id": 1},
                id_token=None if id_token is None else {"id_token": id_token, "type": "ISO14443"},
            )
        )


@contextlib.asynccontextmanager
async def connected_201(
    node: ServedNode,
    station_id: str,
    offered: tuple[Subprotocol, ...] = (OCPP201,),
    station_type: type[Station201] = Station201,
    **connect: Any,
) -> AsyncIterator[Station201]:
    async with websockets.connect(
        f"{node.ocpp_url}/{station_id}", subprotocols=list(offered), **connect
    ) as ws:
        station = station_type(station_id, ws)
        reader = asyncio.create_task(station.start())
        try:
            yield station
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
