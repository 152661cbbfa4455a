"""A station of the six OCPP 1.6 profiles for end-to-end tests, on the ``ocpp`` package's
``ChargePoint``: it answers every CSMS-initiated operation, checks our payloads
against the 1.6 schemas (the package does), and keeps a little state where the
answer depends on it (configuration keys, its local list, reservations).

``answers[action]`` overrides an answer; an action in ``not_supported`` is answered
with a NotSupported CALLERROR."""

from __future__ import annotations

from typing import Any

from ocpp.exceptions import NotSupportedError
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from tests.e2e.conftest import Station

SCHEDULE = {
    "duration": 3600,
    "charging_rate_unit": "A",
    "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
}


class ProfileStation(Station):
    def __init__(self, station_id: str, connection: Any) -> None:
        super().__init__(station_id, connection)
        self.answers: dict[str, dict[str, Any]] = {}
        self.not_supported: set[str] = set()
        self.configuration: dict[str, tuple[str, bool]] = {
            "HeartbeatInterval": ("300", False),
            "NumberOfConnectors": ("2", True),
            "WebSocketPingInterval": ("60", False),
        }
        self.list_version = 0
        self.local_list: dict[str, dict[str, Any]] = {}

    def _take(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Record the CALL; the overriding answer, if one is set."""
        self.received.append((action, payload))
        if action in self.not_supported:
            raise NotSupportedError(description=f"{action} is not supported by this station")
        return self.answers.get(action)

    def of(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == action]

    @on(Action.clear_cache)
    async def on_clear_cache(self, **payload: Any) -> Any:
        return call_result.ClearCache(
            **(self._take("ClearCache", payload) or {"status": "Accepted"})
        )

    @on(Action.get_configuration)
    async def on_get_configuration(self, key: list[str] | None = None, **payload: Any) -> Any:
        answer = self._take("GetConfiguration", {"key": key, **payload})
        if answer is not None:
            return call_result.GetConfiguration(**answer)
        asked = list(self.configuration) if key is None else key
        known = [k for k in asked if k in self.configuration]
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": self.configuration[k][1], "value": self.configuration[k][0]}
                for k in known
            ],
            unknown_key=[k for k in asked if k not in self.configuration],
        )

    @on(Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str) -> Any:
        answer = self._take("ChangeConfiguration", {"key": key, "value": value})
        if answer is not None:
            return call_result.ChangeConfiguration(**answer)
        if key not in self.configuration:
            return call_result.ChangeConfiguration(status="NotSupported")
        if self.configuration[key][1]:
            return call_result.ChangeConfiguration(status="Rejected")
        self.configuration[key] = (value, False)
        status = "RebootRequired" if key == "WebSocketPingInterval" else "Accepted"
        return call_result.ChangeConfiguration(status=status)

    @on(Action.data_transfer)
    async def on_data_transfer(self, **payload: Any) -> Any:
        answer = self._take("DataTransfer", payload)
        return call_result.DataTransfer(**(answer or {"status": "Accepted", "data": "pong"}))

    @on(Action.update_firmware)
    async def on_update_firmware(self, **payload: Any) -> Any:
        return call_result.UpdateFirmware(**(self._take("UpdateFirmware", payload) or {}))

    @on(Action.get_diagnostics)
    async def on_get_diagnostics(self, **payload: Any) -> Any:
        answer = self._take("GetDiagnostics", payload)
        return call_result.GetDiagnostics(**(answer or {"file_name": f"{self.id}.log"}))

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self, **payload: Any) -> Any:
        answer = self._take("GetLocalListVersion", payload)
        return call_result.GetLocalListVersion(**(answer or {"list_version": self.list_version}))

    @on(Action.send_local_list)
    async def on_send_local_list(
        self, list_version: int, update_type: str, local_authorization_list: Any = None
    ) -> Any:
        entries = local_authorization_list or []
        payload = {
            "list_version": list_version,
            "update_type": update_type,
            "local_authorization_list": entries,
        }
        answer = self._take("SendLocalList", payload)
        if answer is not None:
            return call_result.SendLocalList(**answer)
        if update_type == "Differential" and list_version <= self.list_version:
            return call_result.SendLocalList(status="VersionMismatch")
        if update_type == "Full":
            self.local_list = {}
        for entry in entries:
            if entry.get("id_tag_info") is None:
                self.local_list.pop(entry["id_tag"], None)
            else:
                self.local_list[entry["id_tag"]] = entry["id_tag_info"]
        self.list_version = list_version
        return call_result.SendLocalList(status="Accepted")

    @on(Action.reserve_now)
    async def on_reserve_now(self, **payload: Any) -> Any:
        return call_result.ReserveNow(
            **(self._take("ReserveNow", payload) or {"status": "Accepted"})
        )

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, **payload: Any) -> Any:
        answer = self._take("CancelReservation", payload)
        return call_result.CancelReservation(**(answer or {"status": "Accepted"}))

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, **payload: Any) -> Any:
        answer = self._take("SetChargingProfile", payload)
        return call_result.SetChargingProfile(**(answer or {"status": "Accepted"}))

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **payload: Any) -> Any:
        answer = self._take("ClearChargingProfile", payload)
        return call_result.ClearChargingProfile(**(answer or {"status": "Accepted"}))

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(self, **payload: Any) -> Any:
        answer = self._take("GetCompositeSchedule", payload) or {
            "status": "Accepted",
            "connector_id": payload["connector_id"],
            "schedule_start": "2026-01-01T00:00:00Z",
            "charging_schedule": SCHEDULE,
        }
        return call_result.GetCompositeSchedule(**answer)

    @on(Action.trigger_message)
    async def on_trigger_message(self, **payload: Any) -> Any:
        answer = self._take("TriggerMessage", payload)
        return call_result.TriggerMessage(**(answer or {"status": "Accepted"}))

    @after(Action.trigger_message)
    async def send_what_was_asked(self, requested_message: str, **_: Any) -> None:
        """Send the notifications a trigger asks for (as a real station would)."""
        if self.answers.get("TriggerMessage", {}).get("status", "Accepted") != "Accepted":
            return
        if requested_message == "FirmwareStatusNotification":
            await self.call(call.FirmwareStatusNotification(status="Idle"))
        elif requested_message == "DiagnosticsStatusNotification":
            await self.call(call.DiagnosticsStatusNotification(status="Idle"))

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, **payload: Any) -> Any:
        answer = self._take("RemoteStopTransaction", payload)
        return call_result.RemoteStopTransaction(**(answer or {"status": "Accepted"}))

    @on(Action.unlock_connector)
    async def on_unlock(self, **payload: Any) -> Any:
        answer = self._take("UnlockConnector", payload)
        return call_result.UnlockConnector(**(answer or {"status": "Unlocked"}))

    @on(Action.reset)
    async def on_reset(self, **payload: Any) -> Any:
        return call_result.Reset(**(self._take("Reset", payload) or {"status": "Accepted"}))

    @on(Action.change_availability)
    async def on_change_availability(self, **payload: Any) -> Any:
        answer = self._take("ChangeAvailability", payload)
        return call_result.ChangeAvailability(**(answer or {"status": "Accepted"}))
