"""The OCPP 2.0.1 transactions of a simulated ``Charger``, which outlive any one
connection: one per EVSE (the charger's connectors), each numbering its own
TransactionEvents (``seqNo`` from 0), metering every ``meter_interval_s``.

Every TransactionEvent (Started, Updated, Ended) goes through the charger's outbox,
so a session goes on while the network is down: its events wait there, marked
``offline: true``, and are sent in order, unchanged, once the station is back (OCPP
2.0.1 E12: a station keeps its transaction messages while offline). Status
notifications go only while connected (a station reports its EVSEs afresh on boot).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chargeledger.simulator.charger_parts import Connector, now_iso

if TYPE_CHECKING:
    from chargeledger.simulator.charger import Charger

_transaction_numbers = itertools.count(1)


@dataclass
class Session201:
    transaction_id: str
    evse_id: int
    remote_start_id: int | None = None
    seq_nos: itertools.count[int] = field(default_factory=lambda: itertools.count(0))
    metering: asyncio.Task[None] | None = None
    leaving: asyncio.Task[None] | None = None


class Transactions201:
    def __init__(self, charger: Charger) -> None:
        self.charger = charger
        self.sessions: dict[int, Session201] = {}
        """The running session of each EVSE that has one."""

    @property
    def evses(self) -> dict[int, Connector]:
        return self.charger.connectors

    def free_evses(self) -> list[int]:
        return [n for n in self.evses if n not in self.sessions]

    def start(
        self,
        evse_id: int,
        id_token: dict[str, Any] | None,
        trigger: str,
        remote_start_id: int | None = None,
    ) -> str:
        """A session begins on a free EVSE (a driver's token, or a remote start): its
        Started now, an Updated every ``meter_interval_s``; a remote-started one ends
        after ``charge_seconds`` when the behaviour sets them. Its transaction id."""
        if evse_id not in self.free_evses():
            raise ValueError(f"EVSE {evse_id} of {self.charger.station_id} is not free")
        session = Session201(
            f"{self.charger.station_id}-{next(_transaction_numbers)}", evse_id, remote_start_id
        )
        self.sessions[evse_id] = session
        evse = self.evses[evse_id]
        evse.transaction_ref = self.charger.outbox.new_transaction_ref()
        self.charger.counters.transactions += 1
        self._event(session, "Started", trigger, id_token)
        self.status(evse_id)
        session.metering = self.charger.spawn(self._meter(session))
        seconds = self.charger.behaviour.charge_seconds
        if remote_start_id is not None and seconds is not None:
            duration = self.charger.rng.uniform(*seconds)
            session.leaving = self.charger.spawn(self._leave_after(session, duration))
        return session.transaction_id

    def stop(self, evse_id: int, reason: str, trigger: str) -> bool:
        """The session on the EVSE ends (its Ended, with ``reason``); False if none ran."""
        session = self.sessions.pop(evse_id, None)
        if session is None:
            return False
        current = asyncio.current_task()
        for task in (session.metering, session.leaving):
            if task is not None and task is not current:
                task.cancel()
        self._event(session, "Ended", trigger, stopped_reason=reason)
        self.charger.counters.stops += 1
        self.evses[evse_id].transaction_ref = None
        self.status(evse_id)
        return True

    def stop_transaction(self, transaction_id: str, reason: str, trigger: str) -> bool:
        for evse_id, session in list(self.sessions.items()):
            if session.transaction_id == transaction_id:
                return self.stop(evse_id, reason, trigger)
        return False

    def report(self, evse_id: int | None = None) -> int:
        """A TransactionEvent Updated, triggerReason ``Trigger``, for each session running
        (on ``evse_id`` alone if given), as TriggerMessage asks (F06). How many."""
        running = [s for n, s in self.sessions.items() if evse_id in (None, n)]
        for session in running:
            self._event(session, "Updated", "Trigger")
        return len(running)

    def status(self, evse_id: int) -> None:
        """The EVSE's connector status, if connected (``status_payload``)."""
        if self.charger.online:
            self.charger.outbox.put("StatusNotification", self.status_payload(evse_id))

    def status_payload(self, evse_id: int) -> dict[str, Any]:
        return {
            "timestamp": now_iso(),
            "connector_status": "Occupied" if evse_id in self.sessions else "Available",
            "evse_id": evse_id,
            "connector_id": 1,
        }

    async def _meter(self, session: Session201) -> None:
        behaviour, evse = self.charger.behaviour, self.evses[session.evse_id]
        while True:
            await asyncio.sleep(behaviour.meter_interval_s)
            energy_wh = behaviour.power_w * behaviour.meter_interval_s * behaviour.speed / 3600
            evse.meter_wh += energy_wh
            evse.power_w = behaviour.power_w
            self._event(session, "Updated", "MeterValuePeriodic")

    async def _leave_after(self, session: Session201, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.stop(session.evse_id, "EVDisconnected", "EVCommunicationLost")

    def _event(
        self,
        session: Session201,
        event_type: str,
        trigger: str,
        id_token: dict[str, Any] | None = None,
        stopped_reason: str | None = None,
    ) -> None:
        """One TransactionEvent into the outbox, its payload fixed now (the reading,
        the time, the seqNo, whether the station is offline) however late it goes."""
        evse = self.evses[session.evse_id]
        info: dict[str, Any] = {"transaction_id": session.transaction_id}
        if session.remote_start_id is not None:
            info["remote_start_id"] = session.remote_start_id
        if stopped_reason is not None:
            info["stopped_reason"] = stopped_reason
        reading = {"value": round(evse.meter_wh), "measurand": "Energy.Active.Import.Register"}
        payload: dict[str, Any] = {
            "event_type": event_type,
            "timestamp": now_iso(),
            "trigger_reason": trigger,
            "seq_no": next(session.seq_nos),
            "transaction_info": info,
            "meter_value": [{"timestamp": now_iso(), "sampled_value": [reading]}],
            "evse": {"id": session.evse_id, "connector_id": 1},
        }
        if id_token is not None:
            payload["id_token"] = id_token
        if not self.charger.online:
            payload["offline"] = True
        self.charger.outbox.put("TransactionEvent", payload)
