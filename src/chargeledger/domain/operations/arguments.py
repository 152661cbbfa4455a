"""The request event of each operation, its arguments checked against OCPP 1.6
(lengths, enumerations, times) and against the station's state where a rule needs it
(charging profiles, the local list). Each ``Operation`` names its function here as
``request``; ``opening`` is the event's command id and times.

Reservations decide more than a request (``reservations``); here their request is
only shaped, for ``same_request`` and the read side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.charging_profiles import (
    RATE_UNITS,
    ChargingProfile,
    check_clear_criteria,
    check_for_connector,
    check_for_remote_start,
)
from chargeledger.domain.configuration import MAX_KEY_LENGTH, MAX_VALUE_LENGTH, check_change
from chargeledger.domain.enums import (
    AvailabilityType,
    MessageTrigger,
    ReportBase,
    ResetType,
    one_of,
)
from chargeledger.domain.errors import InvalidCommandError
from chargeledger.domain.remote_start_policy import WHOLE_STATION, check_connector_exists
from chargeledger.domain.timestamps import instant

if TYPE_CHECKING:  # station_state names the operations: imported when deciding, not here
    from chargeledger.domain.operations import Common
    from chargeledger.domain.station_state import StationState

Opening = e.RequestBasics
"""The fields every ``...Requested`` event opens with: command_id, requested_at, expires_at."""


def _length(what: str, value: str | None, most: int, least: int = 1) -> None:
    if value is not None and not least <= len(value) <= most:
        raise InvalidCommandError(f"{what} must be {least} to {most} characters, got {len(value)}")


def at_least_zero(values: Iterable[tuple[str, int | None]]) -> None:
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


def connector_of(command: c.OperatorCommand, connector_id: int | None) -> None:
    """A connector the command names exists on the station (0, the whole station, always)."""
    if connector_id is not None and connector_id != WHOLE_STATION:
        check_connector_exists(command.twin, connector_id)


def remote_start(
    command: c.RequestRemoteStart, state: StationState, opening: Opening
) -> e.CommandRequested:
    if command.connector_id is not None:
        check_connector_exists(command.twin, command.connector_id)
    if command.charging_profile is not None:
        check_for_remote_start(command.charging_profile)
    return e.RemoteStartRequested(
        **opening,
        connector_id=command.connector_id,
        id_tag=command.id_tag,
        charging_profile=command.charging_profile,
    )


def remote_stop(
    command: c.RequestRemoteStop, state: StationState, opening: Opening
) -> e.CommandRequested:
    session = state.sessions.get(command.transaction_id)
    return e.RemoteStopRequested(
        **opening,
        transaction_id=command.transaction_id,
        station_transaction_id=None if session is None else session.station_transaction_id,
    )


def unlock_connector(
    command: c.RequestUnlockConnector, state: StationState, opening: Opening
) -> e.CommandRequested:
    check_connector_exists(command.twin, command.connector_id)
    return e.UnlockConnectorRequested(**opening, connector_id=command.connector_id)


def reset(command: c.RequestReset, state: StationState, opening: Opening) -> e.CommandRequested:
    reset_type = one_of("reset type", ResetType, command.reset_type)
    connector_of(command, command.evse_id)
    return e.ResetRequested(**opening, reset_type=reset_type, evse_id=command.evse_id)


def change_availability(
    command: c.RequestChangeAvailability, state: StationState, opening: Opening
) -> e.CommandRequested:
    availability = one_of("availability type", AvailabilityType, command.availability_type)
    if command.connector_id != WHOLE_STATION:
        check_connector_exists(command.twin, command.connector_id)
    return e.AvailabilityChangeRequested(
        **opening,
        connector_id=command.connector_id,
        availability_type=availability,
    )


def trigger_message(
    command: c.RequestTriggerMessage, state: StationState, opening: Opening
) -> e.CommandRequested:
    message = one_of("requested message", MessageTrigger, command.requested_message)
    if command.connector_id not in (None, WHOLE_STATION):
        check_connector_exists(command.twin, command.connector_id)
    return e.TriggerMessageRequested(
        **opening,
        requested_message=message,
        connector_id=command.connector_id,
    )


def clear_cache(
    command: c.RequestClearCache, state: StationState, opening: Opening
) -> e.CommandRequested:
    return e.ClearCacheRequested(**opening)


def get_configuration(
    command: c.RequestGetConfiguration, state: StationState, opening: Opening
) -> e.CommandRequested:
    for key in command.key or ():
        _length("a configuration key", key, MAX_KEY_LENGTH)
    keys = None if command.key is None else list(command.key)
    return e.GetConfigurationRequested(**opening, key=keys)


def change_configuration(
    command: c.RequestChangeConfiguration, state: StationState, opening: Opening
) -> e.CommandRequested:
    _length("key", command.key, MAX_KEY_LENGTH)
    _length("value", command.value, MAX_VALUE_LENGTH, least=0)
    check_change(command.configuration, command.key)
    return e.ChangeConfigurationRequested(**opening, key=command.key, value=command.value)


def data_transfer(
    command: c.RequestDataTransfer, state: StationState, opening: Opening
) -> e.CommandRequested:
    _length("vendor_id", command.vendor_id, 255)
    _length("message_id", command.message_id, 50)
    return e.DataTransferRequested(
        **opening,
        vendor_id=command.vendor_id,
        message_id=command.message_id,
        data=command.data,
    )


def update_firmware(
    command: c.RequestUpdateFirmware, state: StationState, opening: Opening
) -> e.CommandRequested:
    _length("location", command.location, 2000)
    _times(("retrieve_date", command.retrieve_date))
    at_least_zero([("retries", command.retries), ("retry_interval", command.retry_interval)])
    return e.UpdateFirmwareRequested(
        **opening,
        location=command.location,
        retrieve_date=command.retrieve_date,
        retries=command.retries,
        retry_interval=command.retry_interval,
    )


def get_diagnostics(
    command: c.RequestGetDiagnostics, state: StationState, opening: Opening
) -> e.CommandRequested:
    _length("location", command.location, 2000)
    _times(("start_time", command.start_time), ("stop_time", command.stop_time))
    at_least_zero([("retries", command.retries), ("retry_interval", command.retry_interval)])
    if (
        command.start_time
        and command.stop_time
        and instant(command.start_time) >= instant(command.stop_time)
    ):
        raise InvalidCommandError(
            f"start_time {command.start_time} is not before stop_time {command.stop_time}"
        )
    return e.GetDiagnosticsRequested(
        **opening,
        location=command.location,
        retries=command.retries,
        retry_interval=command.retry_interval,
        start_time=command.start_time,
        stop_time=command.stop_time,
    )


def get_local_list_version(
    command: c.RequestGetLocalListVersion, state: StationState, opening: Opening
) -> e.CommandRequested:
    return e.GetLocalListVersionRequested(**opening)


def get_base_report(
    command: c.RequestGetBaseReport, state: StationState, opening: Opening
) -> e.CommandRequested:
    report_base = one_of("report base", ReportBase, command.report_base)
    return e.GetBaseReportRequested(**opening, report_base=report_base)


def get_transaction_status(
    command: c.RequestGetTransactionStatus, state: StationState, opening: Opening
) -> e.CommandRequested:
    tracked = {t.transaction_id: key for key, t in state.station_transactions.items()}
    return e.GetTransactionStatusRequested(
        **opening,
        transaction_id=command.transaction_id,
        station_transaction_id=tracked.get(command.transaction_id or 0),
    )


def send_local_list(
    command: c.RequestSendLocalList, state: StationState, opening: Opening
) -> e.CommandRequested:
    # local_list names the operations it follows up on, so it is imported here.
    from chargeledger.domain.local_list import update_request

    return update_request(command, state, opening)


def reserve_now(
    command: c.RequestReserveNow, state: StationState, opening: Opening
) -> e.CommandRequested:
    return e.ReserveNowRequested(
        **opening,
        reservation_id=command.reservation_id,
        connector_id=command.connector_id,
        expiry_date=command.expiry_date,
        id_tag=command.id_tag,
        parent_id_tag=command.parent_id_tag,
    )


def cancel_reservation(
    command: c.RequestCancelReservation, state: StationState, opening: Opening
) -> e.CommandRequested:
    return e.CancelReservationRequested(**opening, reservation_id=command.reservation_id)


def set_charging_profile(
    command: c.RequestSetChargingProfile, state: StationState, opening: Opening
) -> e.CommandRequested:
    connector_of(command, command.connector_id)
    open_transactions = {t: s.connector_id for t, s in state.sessions.items()}
    check_for_connector(command.cs_charging_profiles, command.connector_id, open_transactions)
    session = state.sessions.get(command.cs_charging_profiles.get("transaction_id") or 0)
    return e.SetChargingProfileRequested(
        **opening,
        connector_id=command.connector_id,
        cs_charging_profiles=ChargingProfile(**command.cs_charging_profiles),
        station_transaction_id=None if session is None else session.station_transaction_id,
    )


def clear_charging_profile(
    command: c.RequestClearChargingProfile, state: StationState, opening: Opening
) -> e.CommandRequested:
    connector_of(command, command.connector_id)
    check_clear_criteria(command.charging_profile_purpose, command.stack_level)
    return e.ClearChargingProfileRequested(
        **opening,
        id=command.id,
        connector_id=command.connector_id,
        charging_profile_purpose=command.charging_profile_purpose,
        stack_level=command.stack_level,
    )


def get_composite_schedule(
    command: c.RequestGetCompositeSchedule, state: StationState, opening: Opening
) -> e.CommandRequested:
    connector_of(command, command.connector_id)
    if command.duration <= 0:
        raise InvalidCommandError(f"duration must be positive (seconds), got {command.duration}")
    if command.charging_rate_unit is not None and command.charging_rate_unit not in RATE_UNITS:
        raise InvalidCommandError(
            f"charging_rate_unit {command.charging_rate_unit!r} is not one of W, A"
        )
    return e.GetCompositeScheduleRequested(
        **opening,
        connector_id=command.connector_id,
        duration=command.duration,
        charging_rate_unit=command.charging_rate_unit,
    )


# The commands whose fields the API names otherwise (``type`` is a reset's
# ``reset_type``); the other operations' commands take the API's names as they are.


def remote_start_command(args: Mapping[str, Any], common: Common) -> c.OperatorCommand:
    return c.RequestRemoteStart(
        connector_id=args.get("connector_id"),
        id_tag=args["id_tag"],
        charging_profile=args.get("charging_profile"),
        id_tag_status=args.get("id_tag_status"),
        force=bool(args.get("force", False)),
        **common,
    )


def reset_command(args: Mapping[str, Any], common: Common) -> c.OperatorCommand:
    return c.RequestReset(reset_type=args["type"], evse_id=args.get("evse_id"), **common)


class Span(Enum):
    """What a slot holds when it names no part of the station."""

    WHOLE_STATION = "the whole station"
    """It overlaps every slot of its operation (``station._holder``)."""


def part_or_whole(name: str) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The slot of an operation on one part of the station (the EVSE or connector its
    argument ``name`` names) or, naming none (or 0), on the whole station: two parts may
    each have one pending, while the whole station's waits for every part's, and each
    part's for it. A reset names its EVSE (OCPP 2.0.1 only: a 1.6 reset names none, one
    at a time as before); a change of availability its connector (0: the station)."""

    def slot(payload: Mapping[str, Any]) -> tuple[Any, ...]:
        part = payload.get(name)
        return (Span.WHOLE_STATION,) if part in (None, WHOLE_STATION) else (part,)

    return slot


def change_availability_command(args: Mapping[str, Any], common: Common) -> c.OperatorCommand:
    return c.RequestChangeAvailability(
        connector_id=args["connector_id"], availability_type=args["type"], **common
    )
