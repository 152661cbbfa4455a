"""The rest of what a simulated OCPP 2.0.1 station answers (mixed into
``SimulatedStation201``), as a charger does:

- SendLocalList / GetLocalListVersion (D01, D02): it keeps the list, by token, and
  its ``versionNumber``; a Differential update whose version is not above its own is
  a VersionMismatch.
- ReserveNow / CancelReservation (H01, H02): accepted on an EVSE of its own that is
  free (any, without ``evseId``), Occupied when charging; a reservation it holds is
  cancelled.
- UpdateFirmware (L01): accepted; then FirmwareStatusNotification Downloading,
  Downloaded, Installing, Installed, a second apart, with the request's id.
- GetLog (N01): accepted with a file name; then LogStatusNotification Uploading,
  Uploaded.
- SetNetworkProfile (B09): kept in its slot.
- GetTransactionStatus (E14): whether TransactionEvents wait in its outbox (of that
  transaction, or any) and whether the transaction still runs.
- DataTransfer (P01): vendor ``VENDOR_ID`` echoes the data; any other vendor is
  UnknownVendorId.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from chargeledger.simulator.station_parts201 import StationParts201

NOTIFY_EVERY_S = 1.0
VENDOR_ID = "org.chargeledger.simulator"
"""The vendor whose DataTransfer the simulator understands: it answers the data back."""


class Operations201(StationParts201):
    @property
    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.charger.profiles_state
        return state

    # -- local list ------------------------------------------------------------------

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self, **_: Any) -> Any:
        self._count("GetLocalListVersion")
        return call_result.GetLocalListVersion(version_number=self._state["list_version"])

    @on(Action.send_local_list)
    async def on_send_local_list(
        self,
        version_number: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        self._count("SendLocalList")
        state = self._state
        if update_type == "Differential" and version_number <= state["list_version"]:
            return call_result.SendLocalList(status="VersionMismatch")
        held: dict[str, Any] = {} if update_type == "Full" else dict(state["local_list"])
        for entry in local_authorization_list or []:
            token = entry["id_token"]["id_token"]
            if entry.get("id_token_info") is None:
                held.pop(token, None)
            else:
                held[token] = entry["id_token_info"]
        state.update(list_version=version_number, local_list=held)
        return call_result.SendLocalList(status="Accepted")

    # -- reservations ----------------------------------------------------------------

    @on(Action.reserve_now)
    async def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, Any],
        evse_id: int | None = None,
        **_: Any,
    ) -> Any:
        self._count("ReserveNow")
        if evse_id is not None and evse_id not in self.evses:
            return call_result.ReserveNow(status="Rejected")
        targets = list(self.evses) if evse_id is None else [evse_id]
        reserved = {held[0] for rid, held in self._state["reservations"].items() if rid != id}
        free = [t for t in targets if t not in self.transactions.sessions and t not in reserved]
        if not free:
            busy = all(t in self.transactions.sessions for t in targets)
            return call_result.ReserveNow(status="Occupied" if busy else "Rejected")
        self._state["reservations"][id] = (evse_id, id_token, expiry_date_time)
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        self._count("CancelReservation")
        held = self._state["reservations"].pop(reservation_id, None)
        return call_result.CancelReservation(status="Accepted" if held else "Rejected")

    # -- firmware and logs -------------------------------------------------------------

    async def _notify(self, message: Any, request_id: int, statuses: tuple[str, ...]) -> None:
        for status in statuses:
            await asyncio.sleep(NOTIFY_EVERY_S)
            await self.call(message(status=status, request_id=request_id))

    @on(Action.update_firmware)
    async def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> Any:
        self._count("UpdateFirmware")
        return call_result.UpdateFirmware(status="Accepted")

    @after(Action.update_firmware)
    async def after_update_firmware(self, request_id: int, **_: Any) -> None:
        steps = ("Downloading", "Downloaded", "Installing", "Installed")
        self._spawn(self._notify(call.FirmwareStatusNotification, request_id, steps))

    @on(Action.get_log)
    async def on_get_log(
        self, log: dict[str, Any], log_type: str, request_id: int, **_: Any
    ) -> Any:
        self._count("GetLog")
        filename = f"{self.charger.station_id}-{log_type}-{request_id}.log"
        return call_result.GetLog(status="Accepted", filename=filename)

    @after(Action.get_log)
    async def after_get_log(self, request_id: int, **_: Any) -> None:
        steps = ("Uploading", "Uploaded")
        self._spawn(self._notify(call.LogStatusNotification, request_id, steps))

    # -- the rest --------------------------------------------------------------------

    @on(Action.set_network_profile)
    async def on_set_network_profile(
        self, configuration_slot: int, connection_data: dict[str, Any], **_: Any
    ) -> Any:
        self._count("SetNetworkProfile")
        self._state.setdefault("network_profiles", {})[configuration_slot] = connection_data
        return call_result.SetNetworkProfile(status="Accepted")

    @on(Action.get_transaction_status)
    async def on_get_transaction_status(self, transaction_id: str | None = None, **_: Any) -> Any:
        self._count("GetTransactionStatus")
        waiting = [
            event
            for event in self.charger.outbox.queued("TransactionEvent")
            if transaction_id in (None, event["transaction_info"]["transaction_id"])
        ]
        if transaction_id is None:
            return call_result.GetTransactionStatus(messages_in_queue=bool(waiting))
        running = any(
            s.transaction_id == transaction_id for s in self.transactions.sessions.values()
        )
        return call_result.GetTransactionStatus(
            messages_in_queue=bool(waiting), ongoing_indicator=running
        )

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, data: Any = None, **_: Any) -> Any:
        self._count("DataTransfer")
        if vendor_id != VENDOR_ID:
            return call_result.DataTransfer(status="UnknownVendorId")
        return call_result.DataTransfer(status="Accepted", data=data)
