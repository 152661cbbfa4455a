"""Command bodies at the edges (issue 10, items 8 and 9): integers are JSON integers
within bounds, decimals finite and bounded, times within 1970-9000; each refusal a
ValidationError naming the field, never an exception that would be a 500."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from chargeledger.adapters.ocpp.v16.bodies import (
    ChargingProfile,
    RemoteStartBody,
    ReserveNowBody,
)
from chargeledger.application.registry import InvalidStationIdError, check_station_id
from chargeledger.entrypoints.api.admission import IdTagBody, ListName
from chargeledger.entrypoints.api.commands import BODIES, CommandName, said
from chargeledger.entrypoints.api.profiles import ProfileId


def profile(limit: Any) -> dict[str, Any]:
    return {
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Absolute",
        "charging_schedule": {
            "charging_rate_unit": "W",
            "charging_schedule_period": [{"start_period": 0, "limit": limit}],
        },
    }


@pytest.mark.parametrize("connector_id", [2**63, True, "1", 1.0, -1, 256])
def test_a_remote_start_connector_id_that_is_not_a_bounded_integer_is_refused(
    connector_id: Any,
) -> None:
    with pytest.raises(ValidationError, match="connector_id"):
        RemoteStartBody.model_validate({"connector_id": connector_id, "id_tag": "T"})


def test_a_remote_start_connector_id_within_bounds_is_kept() -> None:
    assert RemoteStartBody.model_validate({"connector_id": 255, "id_tag": "T"}).connector_id == 255


@pytest.mark.parametrize(
    "expiry",
    [
        "9999-12-31T23:59:59-23:59",  # past year 9999 once in UTC: OverflowError on main
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
    ],
)
def test_times_at_the_limits_of_the_calendar_are_refused(expiry: str) -> None:
    with pytest.raises(ValidationError, match="a time from 1970 to 9000"):
        ReserveNowBody.model_validate({"connector_id": 1, "id_tag": "T", "expiry_date": expiry})
    with pytest.raises(ValidationError, match="a time from 1970 to 9000"):
        IdTagBody.model_validate({"expiry": expiry})


@pytest.mark.parametrize("limit", [1e308, float("inf"), float("nan"), True, "16"])
def test_a_profile_limit_that_is_not_a_bounded_finite_number_is_refused(limit: Any) -> None:
    with pytest.raises(ValidationError, match="limit"):
        ChargingProfile.model_validate(profile(limit))


def test_a_profile_limit_may_be_written_as_an_integer() -> None:
    period = ChargingProfile.model_validate(profile(16)).charging_schedule
    assert period.charging_schedule_period[0].limit == 16.0


@pytest.mark.parametrize(
    ("name", "body"),
    [
        (CommandName.remote_stop, {"transaction_id": 2**31}),
        (CommandName.unlock_connector, {"connector_id": 1.0}),
        (CommandName.change_availability, {"connector_id": "0", "type": "Operative"}),
        (CommandName.trigger_message, {"requested_message": "Heartbeat", "connector_id": 2**63}),
        (CommandName.cancel_reservation, {"reservation_id": -(2**31) - 1}),
        (CommandName.get_composite_schedule, {"connector_id": 1, "duration": 1e308}),
        (CommandName.reset, {"type": "Soft", "ttl_s": "60"}),
    ],
)
def test_every_command_refuses_an_integer_out_of_bounds_or_of_another_type(
    name: CommandName, body: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        BODIES[name].model_validate(body)


@pytest.mark.parametrize("station_id", [".", ".."])
def test_dot_and_dot_dot_are_not_station_ids(station_id: str) -> None:
    with pytest.raises(InvalidStationIdError):
        check_station_id(station_id)


def test_ids_with_dots_inside_are_still_station_ids() -> None:
    check_station_id("...x")
    check_station_id("CP.1")


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_and_dot_dot_are_not_local_list_names(name: str) -> None:
    with pytest.raises(ValidationError, match=r"other than \. and \.\."):
        TypeAdapter(ListName).validate_python(name)


@pytest.mark.parametrize("profile_id", [2**31, 2**63, -(2**31) - 1])
def test_a_stored_profile_id_is_an_ocpp_integer(profile_id: int) -> None:
    """Stored as 2^63 on main, it was a profile set-charging-profile could never name."""
    with pytest.raises(ValidationError):
        TypeAdapter(ProfileId).validate_python(profile_id)


def test_a_field_added_later_is_left_out_of_the_request_while_unset() -> None:
    """A reset repeated across the upgrade that added ``evse_id`` says what it said
    before: the same fingerprint, so its Idempotency-Key returns the first command."""
    assert said(BODIES[CommandName("reset")].model_validate({"type": "Soft"})) == {"type": "Soft"}
    one = BODIES[CommandName("reset")].model_validate({"type": "Soft", "evse_id": 2})
    assert said(one) == {"type": "Soft", "evse_id": 2}
    remote_start = said(BODIES[CommandName("remote-start")].model_validate({"id_tag": "T"}))
    assert remote_start["connector_id"] is None  # an older field stays, as it was kept
