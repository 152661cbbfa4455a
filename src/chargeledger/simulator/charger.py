"""A simulated charger's own state and behaviour, which outlive any one connection: its
connectors and meters, the cars plugged in, its transactions, its local authorization
list and cache, its configuration, and the outbox of messages to send.

What a driver does: ``plug`` a car, ``present_tag`` (authorized locally or by the
CSMS, then charging starts once the car is plugged; the same tag again stops it),
``unplug`` (stops a session with ``EVDisconnected``). Sessions go on while the
connection is down: meter readings and the stop wait in the outbox and go, in order,
once the station is back. ``go_offline`` simulates a lost network for a while.

Authorization follows OCPP 1.6's configuration keys: ``LocalPreAuthorize`` (a tag the
local list or cache accepts starts at once, without Authorize), ``LocalAuthorizeOffline``
(offline, the local list and cache decide), ``AllowOfflineTxForUnknownId`` (offline,
an unknown tag may charge), ``AuthorizationCacheEnabled`` (answers are remembered;
ClearCache forgets them), ``LocalAuthListEnabled``, ``StopTransactionOnInvalidId``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import UTC, datetime
from typing import Any

from ocpp import v201
from ocpp.v16 import call

from chargeledger.simulator.charger_parts import Behaviour, Connector, Counters, now_iso
from chargeledger.simulator.outbox import Outbox
from chargeledger.simulator.power import Vehicle, charging_power_w, limit_to_watts
from chargeledger.simulator.transactions201 import Transactions201

PROTOCOL_201 = "ocpp2.0.1"


class Charger:
    def __init__(
        self,
        station_id: str,
        behaviour: Behaviour | None = None,
        rng: random.Random | None = None,
        protocol: str = "ocpp1.6",
    ) -> None:
        self.station_id = station_id
        self.protocol = protocol
        self.behaviour = behaviour or Behaviour()
        self.rng = rng or random.Random()
        self.connectors = {
            n: Connector(meter_wh=float(self.rng.randint(0, 1_000_000)))
            for n in range(1, self.behaviour.connectors + 1)
        }
        self.configuration: dict[str, str] = {
            "HeartbeatInterval": "300",
            "MeterValueSampleInterval": str(int(self.behaviour.meter_interval_s)),
            "NumberOfConnectors": str(self.behaviour.connectors),
            "AuthorizeRemoteTxRequests": "false",
            "LocalAuthListEnabled": "true",
            "AuthorizationCacheEnabled": "true",
            "LocalPreAuthorize": "false",
            "LocalAuthorizeOffline": "true",
            "AllowOfflineTxForUnknownId": "false",
            "StopTransactionOnInvalidId": "true",
            "TransactionMessageAttempts": str(self.behaviour.transaction_message_attempts),
            "TransactionMessageRetryInterval": str(int(self.behaviour.transaction_message_retry_s)),
        }
        self.profiles_state: dict[str, Any] = {
            "list_version": 0,
            "local_list": {},
            "reservations": {},
            "profiles": {},
        }
        self.cache: dict[str, dict[str, Any]] = {}
        self.outbox = Outbox(calls=v201.call if protocol == PROTOCOL_201 else call)
        self.transactions201 = Transactions201(self) if protocol == PROTOCOL_201 else None
        """An OCPP 2.0.1 charger's sessions (``transactions201``); None for 1.6."""
        self.counters = Counters()
        self.link: Any = None
        """The connection's ``SimulatedStation`` once it booted; None while offline."""
        self.network_down = asyncio.Event()
        self.offline_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    # -- connection ---------------------------------------------------------------

    @property
    def online(self) -> bool:
        return self.link is not None

    @property
    def charging_count(self) -> int:
        return sum(1 for c in self.connectors.values() if c.transaction_ref is not None)

    def attach(self, link: Any) -> None:
        self.link = link

    def detach(self, link: Any) -> None:
        if self.link is link:
            self.link = None
        self.outbox.drop_volatile()

    def go_offline(self, seconds: float) -> None:
        """The network is lost for ``seconds``: the connection drops at once (no close
        handshake) and the station does not reconnect before then."""
        self.offline_until = asyncio.get_running_loop().time() + seconds
        self.network_down.set()

    async def network_back(self, stop: asyncio.Event) -> None:
        """Return once the network is back (or ``stop`` is set)."""
        loop = asyncio.get_running_loop()
        while not stop.is_set() and loop.time() < self.offline_until:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.offline_until - loop.time())
        self.network_down.clear()

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def set_status(self, connector_id: int, status: str) -> None:
        if connector_id in self.connectors:
            self.connectors[connector_id].status = status
        if self.online:
            self.outbox.put(
                "StatusNotification",
                {
                    "connector_id": connector_id,
                    "error_code": "NoError",
                    "status": status,
                    "timestamp": now_iso(),
                },
            )

    # -- authorization -------------------------------------------------------------

    def _enabled(self, key: str) -> bool:
        return self.configuration.get(key, "false").lower() == "true"

    @staticmethod
    def _verdict(info: dict[str, Any]) -> str:
        status = str(info.get("status", "Invalid"))
        expiry = info.get("expiry_date")
        if status == "Accepted" and expiry:
            with contextlib.suppress(ValueError):
                if datetime.fromisoformat(str(expiry).replace("Z", "+00:00")) <= datetime.now(UTC):
                    return "Expired"
        return status

    def local_verdict(self, id_tag: str) -> str | None:
        """What the local list, then the cache, say of a tag; None if neither knows it."""
        local_list = self.profiles_state["local_list"]
        if self._enabled("LocalAuthListEnabled") and id_tag in local_list:
            return self._verdict(local_list[id_tag])
        if self._enabled("AuthorizationCacheEnabled") and id_tag in self.cache:
            return self._verdict(self.cache[id_tag])
        return None

    def remember(self, id_tag: str, info: dict[str, Any] | None) -> None:
        if info is not None and self._enabled("AuthorizationCacheEnabled"):
            self.cache[id_tag] = dict(info)

    async def authorize(self, id_tag: str) -> str:
        """Accepted, or why not: locally when the configuration allows, else by Authorize."""
        local = self.local_verdict(id_tag)
        if self.online:
            if local == "Accepted" and self._enabled("LocalPreAuthorize"):
                return local
            with contextlib.suppress(Exception):
                answer = await asyncio.wait_for(
                    self.link.call(call.Authorize(id_tag=id_tag)),
                    self.behaviour.response_timeout_s,
                )
                if answer is not None:
                    self.remember(id_tag, answer.id_tag_info)
                    return str(answer.id_tag_info["status"])
        if self._enabled("LocalAuthorizeOffline") and local is not None:
            return local
        if local is None and self._enabled("AllowOfflineTxForUnknownId"):
            return "Accepted"
        return local if local not in (None, "Accepted") else "Invalid"

    # -- what a driver does ----------------------------------------------------------

    def plug(self, connector_id: int, vehicle: Vehicle | None = None) -> None:
        connector = self.connectors[connector_id]
        if connector.plugged:
            return
        connector.plugged = True
        connector.vehicle = vehicle or self.behaviour.vehicle
        connector.soc_percent = connector.vehicle.soc_percent
        if connector.status == "Available":
            self.set_status(connector_id, "Preparing")
        if connector.pending_tag is not None and connector.transaction_ref is None:
            tag, connector.pending_tag = connector.pending_tag, None
            self.start_transaction(connector_id, tag)

    async def present_tag(self, connector_id: int, id_tag: str) -> str:
        """A driver holds a tag to the reader: the tag of a running session stops it;
        otherwise an accepted tag starts one (at once if a car is plugged, or when it is)."""
        connector = self.connectors[connector_id]
        if connector.transaction_ref is not None:
            if id_tag != connector.id_tag:
                return "Occupied"
            self.stop_transaction(connector_id, "Local")
            return "Accepted"
        verdict = await self.authorize(id_tag)
        if verdict != "Accepted":
            return verdict
        if connector.plugged:
            self.start_transaction(connector_id, id_tag)
        else:
            connector.pending_tag = id_tag
            if connector.status == "Available":
                self.set_status(connector_id, "Preparing")
        return verdict

    def unplug(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        connector.plugged = False
        connector.pending_tag = None
        if connector.transaction_ref is not None:
            self.stop_transaction(connector_id, "EVDisconnected")
        self._free(connector_id)

    def remote_start(self, connector_id: int, id_tag: str) -> None:
        """A remote start is pre-authorized and the driver is there: the car is plugged
        (if it was not) and, in a demo, leaves after ``charge_seconds``."""
        connector = self.connectors[connector_id]
        self.plug(connector_id)
        self.start_transaction(connector_id, id_tag)
        connector.remote = True
        if self.behaviour.charge_seconds is not None:
            low, high = self.behaviour.charge_seconds
            connector.leaving = self.spawn(
                self._leave_after(connector_id, self.rng.uniform(low, high))
            )

    def remote_stop(self, transaction_id: int) -> bool:
        for connector_id, connector in self.connectors.items():
            if connector.transaction_ref is not None and connector.transaction_id == transaction_id:
                self.stop_transaction(connector_id, "Remote")
                if connector.remote:
                    self.unplug(connector_id)
                return True
        return False

    async def _leave_after(self, connector_id: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.connectors[connector_id].leaving = None
        self.unplug(connector_id)

    # -- transactions ------------------------------------------------------------------

    def start_transaction(
        self, connector_id: int, id_tag: str, reservation_id: int | None = None
    ) -> None:
        connector = self.connectors[connector_id]
        ref = self.outbox.new_transaction_ref()
        connector.transaction_ref, connector.transaction_id = ref, None
        connector.id_tag = id_tag
        connector.remote = False
        connector.started_at = asyncio.get_running_loop().time()
        self.counters.transactions += 1
        payload: dict[str, Any] = {
            "connector_id": connector_id,
            "id_tag": id_tag,
            "meter_start": int(connector.meter_wh),
            "timestamp": now_iso(),
        }
        if reservation_id is not None:
            payload["reservation_id"] = reservation_id
        self.outbox.put("StartTransaction", payload, ref)
        self.set_status(connector_id, "Charging")
        connector.metering = self.spawn(self._meter(connector_id, ref))

    def started(self, ref: int, transaction_id: int, id_tag_info: dict[str, Any]) -> None:
        """The CSMS answered a StartTransaction (maybe long after it began, offline)."""
        self.outbox.resolve(ref, transaction_id)
        for connector_id, connector in self.connectors.items():
            if connector.transaction_ref != ref:
                continue
            connector.transaction_id = transaction_id
            if connector.id_tag is not None:
                self.remember(connector.id_tag, id_tag_info)
            if id_tag_info.get("status") != "Accepted" and self._enabled(
                "StopTransactionOnInvalidId"
            ):
                self.stop_transaction(connector_id, "DeAuthorized")  # OCPP 1.6, 4.8

    def stop_transaction(self, connector_id: int, reason: str) -> None:
        connector = self.connectors[connector_id]
        if connector.transaction_ref is None:
            return
        current = asyncio.current_task()
        for task in (connector.metering, connector.leaving):
            if task is not None and task is not current:
                task.cancel()
        connector.metering = connector.leaving = None
        self.outbox.put(
            "StopTransaction",
            {
                "meter_stop": int(connector.meter_wh),
                "timestamp": now_iso(),
                "reason": reason,
                "id_tag": connector.id_tag,
            },
            connector.transaction_ref,
        )
        self.counters.stops += 1
        connector.transaction_ref = connector.transaction_id = connector.id_tag = None
        connector.power_w = 0.0
        if connector.plugged:
            self.set_status(connector_id, "Finishing")
        else:
            self._free(connector_id)

    def _free(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        if connector.transaction_ref is not None or connector.status in ("Unavailable",):
            return
        final = "Unavailable" if connector.inoperative_after_charge else "Available"
        connector.inoperative_after_charge = False
        self.set_status(connector_id, final)

    def profile_limit_w(self, connector_id: int, elapsed_s: float) -> float | None:
        """The limit of the highest-stack profile on the connector or the station, at
        the period reached since the session began; None without a profile."""
        profiles = [
            profile
            for connector, profile in self.profiles_state["profiles"].values()
            if connector in (0, connector_id)
        ]
        if not profiles:
            return None
        schedule = max(profiles, key=lambda p: p["stack_level"])["charging_schedule"]
        periods = [
            p for p in schedule["charging_schedule_period"] if p["start_period"] <= elapsed_s
        ]
        if not periods:
            return None
        period = max(periods, key=lambda p: p["start_period"])
        phases = int(period.get("number_phases") or 3)
        return limit_to_watts(float(period["limit"]), schedule["charging_rate_unit"], phases)

    def meter_sample(self, connector_id: int) -> dict[str, Any]:
        connector = self.connectors[connector_id]
        values = [
            {
                "value": str(int(connector.meter_wh)),
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            },
            {
                "value": f"{connector.power_w:.0f}",
                "measurand": "Power.Active.Import",
                "unit": "W",
            },
        ]
        if connector.plugged:
            values.append(
                {"value": f"{connector.soc_percent:.0f}", "measurand": "SoC", "unit": "Percent"}
            )
        return {"timestamp": now_iso(), "sampledValue": values}

    async def _meter(self, connector_id: int, ref: int) -> None:
        loop = asyncio.get_running_loop()
        connector = self.connectors[connector_id]
        last = loop.time()
        while True:
            await asyncio.sleep(self.behaviour.meter_interval_s)
            now = loop.time()
            speed = self.behaviour.speed
            limit = self.profile_limit_w(connector_id, (now - connector.started_at) * speed)
            power = charging_power_w(
                connector.soc_percent, connector.vehicle, self.behaviour.power_w, limit
            )
            energy_wh = power * (now - last) * speed / 3600.0
            last = now
            connector.power_w = power
            connector.meter_wh += energy_wh
            connector.soc_percent = min(
                100.0, connector.soc_percent + 100.0 * energy_wh / connector.vehicle.battery_wh
            )
            if power == 0.0 and connector.status == "Charging":
                self.set_status(connector_id, "SuspendedEV")
            self.outbox.put(
                "MeterValues",
                {"connector_id": connector_id, "meter_value": [self.meter_sample(connector_id)]},
                ref,
            )
