"""What a simulated station does with the operations of the Firmware Management, Local
Auth List Management, Reservation and Smart Charging profiles, so that every
operator command has a station to answer it in a demo.

- UpdateFirmware: accepted; then it notifies Downloading, Downloaded, Installing,
  Installed, a second apart. GetDiagnostics: answers a file name, then notifies
  Uploading, Uploaded.
- SendLocalList / GetLocalListVersion: it keeps the list and its version; a
  Differential update whose version is not above its own is a VersionMismatch.
- ReserveNow: accepted on an available connector (any, for connector 0), Occupied
  on a charging one; CancelReservation of one it holds is accepted.
- SetChargingProfile / ClearChargingProfile: it keeps the profiles by id;
  GetCompositeSchedule answers the schedule of the highest stack level on the
  connector (or the station's), else 32 A.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

NOTIFY_EVERY_S = 1.0


class ProfileOperations:
    """Mixed into ``SimulatedStation`` (it uses its ``charger``, ``connectors``,
    ``call`` and ``_count``)."""

    charger: Any
    call: Any
    _count: Any
    _spawn: Any

    def _profile_state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.charger.profiles_state
        return state

    async def _notify(self, message: Any, statuses: tuple[str, ...]) -> None:
        for status in statuses:
            await asyncio.sleep(NOTIFY_EVERY_S)
            await self.call(message(status=status))

    @on(Action.update_firmware)
    async def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> Any:
        self._count("UpdateFirmware")
        return call_result.UpdateFirmware()

    @after(Action.update_firmware)
    async def after_update_firmware(self, **_: Any) -> None:
        steps = ("Downloading", "Downloaded", "Installing", "Installed")
        self._spawn(self._notify(call.FirmwareStatusNotification, steps))

    @on(Action.get_diagnostics)
    async def on_get_diagnostics(self, location: str, **_: Any) -> Any:
        self._count("GetDiagnostics")
        return call_result.GetDiagnostics(file_name=f"{getattr(self, 'id', 'sim')}-diagnostics.log")

    @after(Action.get_diagnostics)
    async def after_get_diagnostics(self, **_: Any) -> None:
        self._spawn(self._notify(call.DiagnosticsStatusNotification, ("Uploading", "Uploaded")))

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self, **_: Any) -> Any:
        self._count("GetLocalListVersion")
        return call_result.GetLocalListVersion(list_version=self._profile_state()["list_version"])

    @on(Action.send_local_list)
    async def on_send_local_list(
        self, list_version: int, update_type: str, local_authorization_list: Any = None, **_: Any
    ) -> Any:
        self._count("SendLocalList")
        state = self._profile_state()
        if update_type == "Differential" and list_version <= state["list_version"]:
            return call_result.SendLocalList(status="VersionMismatch")
        held: dict[str, Any] = {} if update_type == "Full" else state["local_list"]
        for entry in local_authorization_list or []:
            if entry.get("id_tag_info") is None:
                held.pop(entry["id_tag"], None)
            else:
                held[entry["id_tag"]] = entry["id_tag_info"]
        state.update(list_version=list_version, local_list=held)
        return call_result.SendLocalList(status="Accepted")

    @on(Action.reserve_now)
    async def on_reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **_: Any
    ) -> Any:
        self._count("ReserveNow")
        if connector_id != 0 and connector_id not in self.charger.connectors:
            return call_result.ReserveNow(status="Rejected")
        targets = list(self.charger.connectors) if connector_id == 0 else [connector_id]
        if all(self.charger.connectors[t].transaction_ref is not None for t in targets):
            return call_result.ReserveNow(status="Occupied")
        if all(self.charger.connectors[t].status == "Unavailable" for t in targets):
            return call_result.ReserveNow(status="Unavailable")
        self._profile_state()["reservations"][reservation_id] = (connector_id, id_tag, expiry_date)
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        self._count("CancelReservation")
        held = self._profile_state()["reservations"].pop(reservation_id, None)
        return call_result.CancelReservation(status="Accepted" if held else "Rejected")

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> Any:
        self._count("SetChargingProfile")
        if connector_id != 0 and connector_id not in self.charger.connectors:
            return call_result.SetChargingProfile(status="Rejected")
        profile_id = cs_charging_profiles["charging_profile_id"]
        self._profile_state()["profiles"][profile_id] = (connector_id, cs_charging_profiles)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ) -> Any:
        self._count("ClearChargingProfile")
        profiles = self._profile_state()["profiles"]
        matching = [
            pid
            for pid, (connector, profile) in profiles.items()
            if (id is None or pid == id)
            and connector_id in (None, connector)
            and charging_profile_purpose in (None, profile["charging_profile_purpose"])
            and stack_level in (None, profile["stack_level"])
        ]
        for pid in matching:
            del profiles[pid]
        return call_result.ClearChargingProfile(status="Accepted" if matching else "Unknown")

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ) -> Any:
        self._count("GetCompositeSchedule")
        candidates = [
            profile
            for connector, profile in self._profile_state()["profiles"].values()
            if connector in (0, connector_id)
        ]
        if candidates:
            schedule = dict(max(candidates, key=lambda p: p["stack_level"])["charging_schedule"])
        else:
            schedule = {
                "charging_rate_unit": charging_rate_unit or "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 32.0}],
            }
        schedule["duration"] = duration
        return call_result.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, charging_schedule=schedule
        )
