"""The request events of the operations beyond the first six operator commands, their
arguments checked against OCPP 1.6 (lengths, enumerations, times) and against the
station's state where a rule needs it (charging profiles, the local list).

Reservations decide more than a request (``reservations``); here their request is
only shaped, for ``same_request`` and the read side.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.charging_profiles import (
    RATE_UNITS,
    check_clear_criteria,
    check_for_connector,
)
from chargeledger.domain.configuration import MAX_KEY_LENGTH, MAX_VALUE_LENGTH, check_change
from chargeledger.domain.errors import InvalidCommandError
from chargeledger.domain.id_tags import instant
from chargeledger.domain.local_list import update_request
from chargeledger.domain.remote_start_policy import WHOLE_STATION, check_connector_exists
from chargeledger.domain.station_state import StationState


def _length(what: str, value: str | None, most: int, least: int = 1) -> None:
    if value is not None and not least <= len(value) <= most:
        raise InvalidCommandError(f"{what} must be {least} to {most} characters, got {len(value)}")


def _at_least_zero(values: Iterable[tuple[str, int | None]]) -> None:
    for what, value in values:
        if value is not None and value < 0:
            raise InvalidCommandError(f"{what} must be 0 or more, got {value}")


def _times(*named: tuple[str, str | None]) -> None:
    for what, value in named:
        if value is None:
            continue
        try:
            instant(value)
        except ValueError:
            raise InvalidCommandError(f"{what} {value!r} is not an ISO-8601 time") from None


def _connector(command: c.OperatorCommand, connector_id: int | None) -> None:
    if connector_id is not None and connector_id != WHOLE_STATION:
        check_connector_exists(command.twin, connector_id)


def operation_request(
    command: c.OperatorCommand, state: StationState, common: dict[str, Any]
) -> e.CommandRequested:
    """The request event of one of the thirteen operations, arguments checked."""
    match command:
        case c.RequestCacheClear():
            return e.ClearCacheRequested(**common)
        case c.RequestConfiguration():
            for key in command.key or ():
                _length("a configuration key", key, MAX_KEY_LENGTH)
            keys = None if command.key is None else list(command.key)
            return e.GetConfigurationRequested(**common, key=keys)
        case c.RequestConfigurationChange():
            _length("key", command.key, MAX_KEY_LENGTH)
            _length("value", command.value, MAX_VALUE_LENGTH, least=0)
            check_change(command.configuration, command.key)
            return e.ChangeConfigurationRequested(**common, key=command.key, value=command.value)
        case c.RequestDataTransfer():
            _length("vendor_id", command.vendor_id, 255)
            _length("message_id", command.message_id, 50)
            return e.DataTransferRequested(
                **common,
                vendor_id=command.vendor_id,
                message_id=command.message_id,
                data=command.data,
            )
        case c.RequestFirmwareUpdate():
            _length("location", command.location, 2000)
            _times(("retrieve_date", command.retrieve_date))
            _at_least_zero(
                [("retries", command.retries), ("retry_interval", command.retry_interval)]
            )
            return e.UpdateFirmwareRequested(
                **common,
                location=command.location,
                retrieve_date=command.retrieve_date,
                retries=command.retries,
                retry_interval=command.retry_interval,
            )
        case c.RequestDiagnostics():
            return _diagnostics(command, common)
        case c.RequestLocalListVersion():
            return e.GetLocalListVersionRequested(**common)
        case c.RequestLocalListUpdate():
            return update_request(command, state, common)
        case c.RequestReservation():
            return e.ReserveNowRequested(
                **common,
                reservation_id=command.reservation_id,
                connector_id=command.connector_id,
                expiry_date=command.expiry_date,
                id_tag=command.id_tag,
                parent_id_tag=command.parent_id_tag,
            )
        case c.RequestReservationCancel():
            return e.CancelReservationRequested(**common, reservation_id=command.reservation_id)
        case c.RequestChargingProfile():
            _connector(command, command.connector_id)
            open_transactions = {t: s.connector_id for t, s in state.sessions.items()}
            check_for_connector(
                command.cs_charging_profiles, command.connector_id, open_transactions
            )
            return e.SetChargingProfileRequested(
                **common,
                connector_id=command.connector_id,
                cs_charging_profiles=dict(command.cs_charging_profiles),
            )
        case c.RequestChargingProfileClear():
            _connector(command, command.connector_id)
            check_clear_criteria(command.charging_profile_purpose, command.stack_level)
            return e.ClearChargingProfileRequested(
                **common,
                id=command.id,
                connector_id=command.connector_id,
                charging_profile_purpose=command.charging_profile_purpose,
                stack_level=command.stack_level,
            )
        case c.RequestCompositeSchedule():
            return _composite_schedule(command, common)
    raise TypeError(f"no request event for {type(command).__name__}")


def _diagnostics(command: c.RequestDiagnostics, common: dict[str, Any]) -> e.CommandRequested:
    _length("location", command.location, 2000)
    _times(("start_time", command.start_time), ("stop_time", command.stop_time))
    _at_least_zero([("retries", command.retries), ("retry_interval", command.retry_interval)])
    if (
        command.start_time
        and command.stop_time
        and instant(command.start_time) >= instant(command.stop_time)
    ):
        raise InvalidCommandError(
            f"start_time {command.start_time} is not before stop_time {command.stop_time}"
        )
    return e.GetDiagnosticsRequested(
        **common,
        location=command.location,
        retries=command.retries,
        retry_interval=command.retry_interval,
        start_time=command.start_time,
        stop_time=command.stop_time,
    )


def _composite_schedule(
    command: c.RequestCompositeSchedule, common: dict[str, Any]
) -> e.CommandRequested:
    _connector(command, command.connector_id)
    if command.duration <= 0:
        raise InvalidCommandError(f"duration must be positive (seconds), got {command.duration}")
    if command.charging_rate_unit is not None and command.charging_rate_unit not in RATE_UNITS:
        raise InvalidCommandError(
            f"charging_rate_unit {command.charging_rate_unit!r} is not one of W, A"
        )
    return e.GetCompositeScheduleRequested(
        **common,
        connector_id=command.connector_id,
        duration=command.duration,
        charging_rate_unit=command.charging_rate_unit,
    )
