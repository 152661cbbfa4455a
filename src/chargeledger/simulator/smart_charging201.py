"""Smart charging on a simulated OCPP 2.0.1 station (mixed into ``SimulatedStation201``):
it keeps the profiles it is sent, per EVSE (0: the station as a whole), and answers
from them, as a charger does (OCPP 2.0.1 K01, K09, K10, K08).

- SetChargingProfile: kept by id (a profile with the same id, or the same purpose and
  stack level on the same EVSE, is replaced). Refused on an EVSE it does not have, a
  ChargingStationMaxProfile anywhere but EVSE 0, a TxProfile without a transaction
  running on its EVSE.
- GetChargingProfiles: NoProfiles when none match; else Accepted, then one
  ReportChargingProfiles per EVSE with what it holds there (``tbc`` but on the last).
- ClearChargingProfile: by id or by criteria; Unknown when none match.
- GetCompositeSchedule: ``composite_schedule`` of what it holds for the EVSE.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from chargeledger.simulator.charger_parts import now_iso
from chargeledger.simulator.station_parts201 import StationParts201

STATION_MAX = "ChargingStationMaxProfile"
VOLTS, PHASES = 230.0, 3
"""What converts amperes to watts when the unit asked is not the profile's."""
DEFAULT_LIMIT_A = 32.0
"""The limit of a station with no profile: its hardware's."""


def _limit_in(period: dict[str, Any], unit: str, wanted: str) -> float:
    limit = float(period["limit"])
    if unit == wanted:
        return limit
    phases = period.get("number_phases") or PHASES
    return limit * VOLTS * phases if wanted == "W" else limit / (VOLTS * phases)


def composite_schedule(
    held: list[tuple[int, dict[str, Any]]], evse_id: int, duration: int, unit: str | None
) -> dict[str, Any]:
    """The schedule the EVSE keeps to for the next ``duration`` seconds: of each
    purpose, the profile of the highest stack level on the EVSE or on the station;
    at each moment the lowest of their limits (in ``unit``, else the first profile's).
    Schedules run from now: the simulator does not place them in time."""
    best: dict[str, dict[str, Any]] = {}
    for on_evse, profile in held:
        if on_evse not in (0, evse_id):
            continue
        purpose = profile["charging_profile_purpose"]
        if purpose not in best or profile["stack_level"] > best[purpose]["stack_level"]:
            best[purpose] = profile
    schedules = [profile["charging_schedule"][0] for profile in best.values()]
    unit = unit or (schedules[0]["charging_rate_unit"] if schedules else "A")
    starts = sorted(
        {0}
        | {
            p["start_period"]
            for s in schedules
            for p in s["charging_schedule_period"]
            if p["start_period"] < duration
        }
    )
    periods: list[dict[str, Any]] = []
    for start in starts:
        limits = [_limit_in({"limit": DEFAULT_LIMIT_A}, "A", unit)]
        for schedule in schedules:
            running = [
                p for p in schedule["charging_schedule_period"] if p["start_period"] <= start
            ]
            if running:
                latest = max(running, key=lambda p: p["start_period"])
                limits.append(_limit_in(latest, schedule["charging_rate_unit"], unit))
        limit = round(min(limits), 1)
        if not periods or periods[-1]["limit"] != limit:
            periods.append({"start_period": start, "limit": limit})
    return {
        "evse_id": evse_id,
        "duration": duration,
        "schedule_start": now_iso(),
        "charging_rate_unit": unit,
        "charging_schedule_period": periods,
    }


def _matches(profile: dict[str, Any], criterion: dict[str, Any]) -> bool:
    ids = criterion.get("charging_profile_id")
    purpose = criterion.get("charging_profile_purpose")
    level = criterion.get("stack_level")
    sources = criterion.get("charging_limit_source")
    return (
        (not ids or profile["id"] in ids)
        and purpose in (None, profile["charging_profile_purpose"])
        and level in (None, profile["stack_level"])
        and (not sources or "CSO" in sources)  # every profile it holds came from the CSMS
    )


class SmartCharging201(StationParts201):
    @property
    def _profiles(self) -> dict[int, tuple[int, dict[str, Any]]]:
        """Each profile it holds, by id: (its EVSE, the profile as sent)."""
        profiles: dict[int, tuple[int, dict[str, Any]]] = self.charger.profiles_state["profiles"]
        return profiles

    def _refuses(self, evse_id: int, profile: dict[str, Any]) -> bool:
        purpose = profile["charging_profile_purpose"]
        if evse_id != 0 and evse_id not in self.evses:
            return True
        if purpose == STATION_MAX and evse_id != 0:
            return True
        if purpose == "TxProfile":
            session = self.transactions.sessions.get(evse_id)
            return session is None or session.transaction_id != profile.get("transaction_id")
        return False

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> Any:
        self._count("SetChargingProfile")
        if self._refuses(evse_id, charging_profile):
            return call_result.SetChargingProfile(status="Rejected")
        purpose, level = (
            charging_profile["charging_profile_purpose"],
            charging_profile["stack_level"],
        )
        for profile_id, (on_evse, held) in list(self._profiles.items()):
            same_slot = (on_evse, held["charging_profile_purpose"], held["stack_level"]) == (
                evse_id,
                purpose,
                level,
            )
            if same_slot:
                del self._profiles[profile_id]
        self._profiles[charging_profile["id"]] = (evse_id, charging_profile)
        return call_result.SetChargingProfile(status="Accepted")

    def _wanted(
        self, charging_profile: dict[str, Any], evse_id: int | None
    ) -> dict[int, list[Any]]:
        by_evse: dict[int, list[Any]] = {}
        for on_evse, profile in self._profiles.values():
            if evse_id in (None, on_evse) and _matches(profile, charging_profile):
                by_evse.setdefault(on_evse, []).append(profile)
        return by_evse

    @on(Action.get_charging_profiles)
    async def on_get_charging_profiles(
        self,
        request_id: int,
        charging_profile: dict[str, Any],
        evse_id: int | None = None,
        **_: Any,
    ) -> Any:
        self._count("GetChargingProfiles")
        found = bool(self._wanted(charging_profile, evse_id))
        return call_result.GetChargingProfiles(status="Accepted" if found else "NoProfiles")

    @after(Action.get_charging_profiles)
    async def after_get_charging_profiles(
        self,
        request_id: int,
        charging_profile: dict[str, Any],
        evse_id: int | None = None,
        **_: Any,
    ) -> None:
        reports = sorted(self._wanted(charging_profile, evse_id).items())
        for index, (on_evse, profiles) in enumerate(reports):
            await self.call(
                call.ReportChargingProfiles(
                    request_id=request_id,
                    charging_limit_source="CSO",
                    charging_profile=profiles,
                    evse_id=on_evse,
                    tbc=index < len(reports) - 1,
                )
            )

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        self._count("ClearChargingProfile")
        criteria = charging_profile_criteria or {}
        evse_id = criteria.get("evse_id")
        matching = [
            profile_id
            for profile_id, (on_evse, profile) in self._profiles.items()
            if charging_profile_id in (None, profile_id)
            and evse_id in (None, on_evse)
            and criteria.get("charging_profile_purpose")
            in (None, profile["charging_profile_purpose"])
            and criteria.get("stack_level") in (None, profile["stack_level"])
        ]
        for profile_id in matching:
            del self._profiles[profile_id]
        return call_result.ClearChargingProfile(status="Accepted" if matching else "Unknown")

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any
    ) -> Any:
        self._count("GetCompositeSchedule")
        if evse_id != 0 and evse_id not in self.evses:
            return call_result.GetCompositeSchedule(status="Rejected")
        schedule = composite_schedule(
            list(self._profiles.values()), evse_id, duration, charging_rate_unit
        )
        return call_result.GetCompositeSchedule(status="Accepted", schedule=schedule)
