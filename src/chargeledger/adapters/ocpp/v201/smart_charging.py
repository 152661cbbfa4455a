"""Smart charging as OCPP 2.0.1 speaks it: set-charging-profile, clear-charging-profile
and get-composite-schedule on 1.6's bodies, and get-charging-profiles, 2.0.1's own.

A profile is requested as 1.6 writes it (``v16/bodies.py``'s ``ChargingProfile``) and
said the 2.0.1 way: ``id`` for ``chargingProfileId``, ``chargingSchedule`` a list (of
one schedule, whose ``id`` is the profile's), ChargePointMaxProfile called
``ChargingStationMaxProfile``, a TxProfile's transaction named by the station's own
``transactionId``, and the connector id as the ``evseId`` (0: the station as a whole).
The CALL is checked against the 2.0.1 schema before the command is decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeledger.adapters.ocpp.spec import OperationSpec, camel
from chargeledger.adapters.ocpp.v16 import bodies as b
from chargeledger.adapters.ocpp.v201.bodies import GetChargingProfilesBody
from chargeledger.domain import operations as o

PURPOSES = {"ChargePointMaxProfile": "ChargingStationMaxProfile"}
"""1.6's purposes that 2.0.1 spells otherwise (TxDefaultProfile, TxProfile: the same)."""


def _purpose(purpose: str) -> str:
    return PURPOSES.get(purpose, purpose)


def charging_profile(
    profile: Mapping[str, Any], station_transaction_id: str | None = None
) -> dict[str, Any]:
    """A profile as 1.6's body holds it (snake_case), as 2.0.1's ``ChargingProfileType``."""
    profile_id = profile.get("charging_profile_id")
    if profile_id is None:  # a body naming a stored profile: the domain resolves it
        raise KeyError("charging_profile_id")
    said: dict[str, Any] = {
        "id": profile_id,
        "stackLevel": profile["stack_level"],
        "chargingProfilePurpose": _purpose(profile["charging_profile_purpose"]),
        "chargingProfileKind": profile["charging_profile_kind"],
        "chargingSchedule": [{"id": profile_id, **camel(profile["charging_schedule"])}],
    }
    for field, name in (
        ("recurrency_kind", "recurrencyKind"),
        ("valid_from", "validFrom"),
        ("valid_to", "validTo"),
    ):
        if profile.get(field) is not None:
            said[name] = profile[field]
    if profile.get("transaction_id") is not None:
        said["transactionId"] = station_transaction_id or str(profile["transaction_id"])
    return said


def _set_charging_profile(payload: Mapping[str, Any]) -> dict[str, Any]:
    profile = payload["cs_charging_profiles"]
    return {
        "evseId": payload["connector_id"],
        "chargingProfile": charging_profile(profile, payload.get("station_transaction_id")),
    }


def _clear_charging_profile(payload: Mapping[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {}
    if payload.get("id") is not None:
        call["chargingProfileId"] = payload["id"]
    criteria: dict[str, Any] = {}
    if payload.get("connector_id") is not None:
        criteria["evseId"] = payload["connector_id"]
    if payload.get("charging_profile_purpose") is not None:
        criteria["chargingProfilePurpose"] = _purpose(payload["charging_profile_purpose"])
    if payload.get("stack_level") is not None:
        criteria["stackLevel"] = payload["stack_level"]
    if criteria:
        call["chargingProfileCriteria"] = criteria
    return call


def _get_composite_schedule(payload: Mapping[str, Any]) -> dict[str, Any]:
    call = {"duration": payload["duration"], "evseId": payload["connector_id"]}
    if payload.get("charging_rate_unit") is not None:
        call["chargingRateUnit"] = payload["charging_rate_unit"]
    return call


def _get_charging_profiles(payload: Mapping[str, Any]) -> dict[str, Any]:
    criterion: dict[str, Any] = {}
    if payload.get("charging_profile_purpose") is not None:
        criterion["chargingProfilePurpose"] = _purpose(payload["charging_profile_purpose"])
    for field, name in (
        ("stack_level", "stackLevel"),
        ("charging_profile_id", "chargingProfileId"),
        ("charging_limit_source", "chargingLimitSource"),
    ):
        if payload.get(field) is not None:
            criterion[name] = payload[field]
    call = {"requestId": payload["request_id"], "chargingProfile": criterion}
    if payload.get("connector_id") is not None:
        call["evseId"] = payload["connector_id"]
    return call


SPECS: tuple[OperationSpec, ...] = (
    OperationSpec(
        o.SET_CHARGING_PROFILE,
        b.SetChargingProfileBody,
        "SetChargingProfile",
        _set_charging_profile,
        details={"Rejected": "the station refused the charging profile"},
    ),
    OperationSpec(
        o.CLEAR_CHARGING_PROFILE,
        b.ClearChargingProfileBody,
        "ClearChargingProfile",
        _clear_charging_profile,
        details={"Unknown": "the station holds no charging profile that matches"},
    ),
    OperationSpec(
        o.GET_COMPOSITE_SCHEDULE,
        b.GetCompositeScheduleBody,
        "GetCompositeSchedule",
        _get_composite_schedule,
        details={"Rejected": "the station cannot tell its schedule for EVSE {connector_id}"},
    ),
    OperationSpec(
        o.GET_CHARGING_PROFILES,
        GetChargingProfilesBody,
        "GetChargingProfiles",
        _get_charging_profiles,
        frozenset({"Accepted", "NoProfiles"}),
        numbered=True,
        details={
            "Accepted": "the station reports its charging profiles (ReportChargingProfiles): "
            "the station view's notices",
            "NoProfiles": "the station holds no charging profile that matches",
        },
    ),
)
