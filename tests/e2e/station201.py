"""Stations that speak OCPP 2.0.1, made from the ``ocpp`` package's v201 ``ChargePoint``:
they answer our CALLs as told and note what they received."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.exceptions import InternalError
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.typing import Subprotocol

from tests.e2e.conftest import ServedNode, eventually

OCPP201 = Subprotocol("ocpp2.0.1")
CALLERROR = "CALLERROR"
"""An ``answers`` entry that makes the station answer with a CALLERROR (InternalError)."""
OCPP16 = Subprotocol("ocpp1.6")


async def command(api: Any, station_id: str, name: str, idem: str, /, **body: Any) -> Any:
    return await api.post(
        f"/api/stations/{station_id}/commands/{name}",
        json=body,
        headers={"Idempotency-Key": idem},
    )


async def ended(api: Any, key: str, status: str, timeout: float = 15) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        view = (await api.get(f"/api/commands/{key}")).json()
        return view if view.get("status") == status else None

    result: dict[str, Any] = await eventually(reached, timeout=timeout)
    return result


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
        answer = self.answers.get(action, "Accepted")
        if answer == CALLERROR:
            raise InternalError(description=f"{action} failed on the station")
        return answer

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
        if self.answers.get("GetBaseReport", "Accepted") == "Accepted":
            await self.notify_report(request_id)

    async def notify_report(self, request_id: int) -> None:
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

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, **payload: Any) -> Any:
        return call_result.SetChargingProfile(status=self._got("SetChargingProfile", payload))

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **payload: Any) -> Any:
        return call_result.ClearChargingProfile(status=self._got("ClearChargingProfile", payload))

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(self, **payload: Any) -> Any:
        return call_result.GetCompositeSchedule(status=self._got("GetCompositeSchedule", payload))

    @on(Action.get_charging_profiles)
    async def on_get_charging_profiles(self, **payload: Any) -> Any:
        return call_result.GetChargingProfiles(status=self._got("GetChargingProfiles", payload))

    @after(Action.get_charging_profiles)
    async def report_profiles(self, request_id: int, **payload: Any) -> None:
        if self.answers.get("GetChargingProfiles", "Accepted") != "Accepted":
            return
        period = {"start_period": 0, "limit": 16}
        schedule = {"id": 3, "charging_rate_unit": "A", "charging_schedule_period": [period]}
        profile = {
            "id": 3,
            "stack_level": 0,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": [schedule],
        }
        await self.call(
            call.ReportChargingProfiles(
                request_id=request_id,
                charging_limit_source="CSO",
                evse_id=1,
                charging_profile=[profile],
            )
        )

    @on(Action.send_local_list)
    async def on_send_local_list(self, **payload: Any) -> Any:
        return call_result.SendLocalList(status=self._got("SendLocalList", payload))

    @on(Action.get_report)
    async def on_get_report(self, **payload: Any) -> Any:
        return call_result.GetReport(status=self._got("GetReport", payload))

    @after(Action.get_report)
    async def report_asked(self, request_id: int, **payload: Any) -> None:
        if self.answers.get("GetReport", "Accepted") == "Accepted":
            await self.notify_report(request_id)

    @on(Action.set_network_profile)
    async def on_set_network_profile(self, **payload: Any) -> Any:
        return call_result.SetNetworkProfile(status=self._got("SetNetworkProfile", payload))

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
