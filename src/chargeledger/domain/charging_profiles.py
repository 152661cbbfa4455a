"""Charging profiles (OCPP 1.6 Smart Charging), checked before they are stored or sent.

A profile is a JSON-friendly mapping in snake_case, the shape of OCPP's
``csChargingProfiles``:

    {"charging_profile_id": 7, "stack_level": 0,
     "charging_profile_purpose": "TxDefaultProfile", "charging_profile_kind": "Absolute",
     "charging_schedule": {"charging_rate_unit": "A",
                           "charging_schedule_period": [{"start_period": 0, "limit": 16}]}}

Rules (each refusal is an ``InvalidChargingProfileError`` naming the field):

- purpose ChargePointMaxProfile, TxDefaultProfile or TxProfile; kind Absolute,
  Recurring (which needs a recurrency kind, Daily or Weekly) or Relative;
  stack level >= 0; ``transaction_id`` only on a TxProfile; valid_from before valid_to.
- the schedule's unit is W or A; its periods are not empty, start at 0 and rise
  strictly by ``start_period``; every limit is positive with at most one decimal
  (OCPP's ``multipleOf 0.1``); ``number_phases`` 1 to 3; duration positive.
- where it goes: a ChargePointMaxProfile only on connector 0; a TxProfile only on a
  connector with the transaction it names open (SetChargingProfile), or without a
  transaction id on a remote start, where the station's new session is its transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from chargeledger.domain.enums import (
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    RecurrencyKind,
)
from chargeledger.domain.errors import InvalidChargingProfileError, TransactionNotFoundError
from chargeledger.domain.timestamps import instant

CHARGE_POINT_MAX = ChargingProfilePurpose.CHARGE_POINT_MAX_PROFILE
TX_DEFAULT = ChargingProfilePurpose.TX_DEFAULT_PROFILE
TX = ChargingProfilePurpose.TX_PROFILE
PURPOSES = tuple(ChargingProfilePurpose)
KINDS = tuple(ChargingProfileKind)
RECURRENCY_KINDS = tuple(RecurrencyKind)
RATE_UNITS = tuple(ChargingRateUnit)

Profile = Mapping[str, Any]
"""A profile as it arrives, before ``check_profile`` has passed it."""


class ChargingSchedulePeriod(TypedDict):
    start_period: int
    limit: float
    number_phases: NotRequired[int | None]


class ChargingSchedule(TypedDict):
    charging_rate_unit: str
    charging_schedule_period: list[ChargingSchedulePeriod]
    duration: NotRequired[int | None]
    start_schedule: NotRequired[str | None]
    min_charging_rate: NotRequired[float | None]


class ChargingProfile(TypedDict):
    """A profile that passed ``check_profile``, as commands and events carry it (the
    optional fields absent or ``None``)."""

    charging_profile_id: int
    stack_level: int
    charging_profile_purpose: str
    charging_profile_kind: str
    charging_schedule: ChargingSchedule
    transaction_id: NotRequired[int | None]
    recurrency_kind: NotRequired[str | None]
    valid_from: NotRequired[str | None]
    valid_to: NotRequired[str | None]


def _refuse(where: str, problem: str) -> InvalidChargingProfileError:
    return InvalidChargingProfileError(f"charging profile {where}: {problem}")


def _integer(profile: Mapping[str, Any], name: str, where: str, required: bool = True) -> Any:
    value = profile.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _refuse(f"{where}{name}", f"must be an integer, got {value!r}")
    return value


def _one_of(profile: Mapping[str, Any], name: str, allowed: tuple[str, ...], where: str) -> str:
    value = profile.get(name)
    if value not in allowed:
        raise _refuse(f"{where}{name}", f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _time(profile: Mapping[str, Any], name: str, where: str) -> str | None:
    value = profile.get(name)
    if value is None:
        return None
    try:
        instant(str(value))
    except ValueError:
        raise _refuse(f"{where}{name}", f"{value!r} is not an ISO-8601 time") from None
    return str(value)


def check_profile(profile: Profile) -> None:
    """Refuse a profile that breaks the rules above (the connector rules aside)."""
    _integer(profile, "charging_profile_id", "")
    if _integer(profile, "stack_level", "") < 0:
        raise _refuse("stack_level", f"must be 0 or more, got {profile['stack_level']}")
    purpose = _one_of(profile, "charging_profile_purpose", PURPOSES, "")
    kind = _one_of(profile, "charging_profile_kind", KINDS, "")
    if kind == ChargingProfileKind.RECURRING:
        _one_of(profile, "recurrency_kind", RECURRENCY_KINDS, "")
    elif profile.get("recurrency_kind") is not None:
        raise _refuse("recurrency_kind", f"only a Recurring profile has one, this one is {kind}")
    transaction_id = _integer(profile, "transaction_id", "", required=False)
    if transaction_id is not None and purpose != TX:
        raise _refuse("transaction_id", f"only a TxProfile names a transaction, not a {purpose}")
    valid_from, valid_to = _time(profile, "valid_from", ""), _time(profile, "valid_to", "")
    if valid_from and valid_to and instant(valid_from) >= instant(valid_to):
        raise _refuse("valid_to", f"{valid_to} is not after valid_from {valid_from}")
    schedule = profile.get("charging_schedule")
    if not isinstance(schedule, Mapping):
        raise _refuse("charging_schedule", "is missing")
    check_schedule(schedule)


def check_schedule(schedule: Mapping[str, Any]) -> None:
    where = "charging_schedule."
    _one_of(schedule, "charging_rate_unit", RATE_UNITS, where)
    duration = _integer(schedule, "duration", where, required=False)
    if duration is not None and duration <= 0:
        raise _refuse(f"{where}duration", f"must be positive, got {duration}")
    _time(schedule, "start_schedule", where)
    minimum = schedule.get("min_charging_rate")
    if minimum is not None and (not _is_number(minimum) or minimum < 0):
        raise _refuse(f"{where}min_charging_rate", f"must be 0 or more, got {minimum!r}")
    periods = schedule.get("charging_schedule_period")
    if not isinstance(periods, list) or not periods:
        raise _refuse(f"{where}charging_schedule_period", "needs at least one period")
    previous: int | None = None
    for index, period in enumerate(periods):
        at = f"{where}charging_schedule_period[{index}]."
        if not isinstance(period, Mapping):
            raise _refuse(at.rstrip("."), "must be an object")
        start = _integer(period, "start_period", at)
        if previous is None and start != 0:
            raise _refuse(f"{at}start_period", f"the first period must start at 0, not {start}")
        if previous is not None and start <= previous:
            raise _refuse(
                f"{at}start_period",
                f"{start} must be after the period before it ({previous}); order them",
            )
        previous = start
        _check_limit(period.get("limit"), f"{at}limit")
        phases = _integer(period, "number_phases", at, required=False)
        if phases is not None and not 1 <= phases <= 3:
            raise _refuse(f"{at}number_phases", f"must be 1, 2 or 3, got {phases}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_limit(limit: Any, where: str) -> None:
    if not _is_number(limit) or limit <= 0:
        raise _refuse(where, f"must be a positive number, got {limit!r}")
    if abs(limit * 10 - round(limit * 10)) > 1e-6:
        raise _refuse(where, f"{limit} has more than one decimal (OCPP 1.6: multiples of 0.1)")


def check_for_connector(
    profile: Profile, connector_id: int, open_transactions: Mapping[int, int]
) -> None:
    """Refuse a SetChargingProfile the connector cannot take. ``open_transactions``:
    transaction id to connector id, of the sessions open on the station."""
    check_profile(profile)
    purpose = profile["charging_profile_purpose"]
    if purpose == CHARGE_POINT_MAX and connector_id != 0:
        raise _refuse(
            "charging_profile_purpose",
            f"a ChargePointMaxProfile limits the whole station: send it to connector 0, "
            f"not {connector_id}",
        )
    if purpose != TX:
        return
    transaction_id = profile.get("transaction_id")
    if connector_id == 0 or transaction_id is None:
        raise _refuse(
            "transaction_id",
            "a TxProfile needs a transaction: name the transaction_id of a session open on "
            "its connector (connector 1 or more)",
        )
    if open_transactions.get(transaction_id) != connector_id:
        raise TransactionNotFoundError(
            f"a TxProfile for transaction {transaction_id} on connector {connector_id}, but "
            "no such session is open there; check GET /api/transactions"
        )


def check_for_remote_start(profile: Profile) -> None:
    """A remote start's profile: a TxProfile whose transaction the station will start."""
    check_profile(profile)
    if profile["charging_profile_purpose"] != TX:
        raise _refuse(
            "charging_profile_purpose",
            f"a remote start takes a TxProfile, not a {profile['charging_profile_purpose']}",
        )
    if profile.get("transaction_id") is not None:
        raise _refuse(
            "transaction_id", "leave it out on a remote start: the station's new session is it"
        )


def check_clear_criteria(purpose: str | None, stack_level: int | None) -> None:
    if purpose is not None and purpose not in PURPOSES:
        raise _refuse(
            "charging_profile_purpose", f"{purpose!r} is not one of {', '.join(PURPOSES)}"
        )
    if stack_level is not None and stack_level < 0:
        raise _refuse("stack_level", f"must be 0 or more, got {stack_level}")
