"""The request events of the operations only OCPP 2.0.1 has (``commands_201``), their
arguments checked as ``arguments`` checks those of both versions. The CALL each
becomes is checked against the 2.0.1 schema before it is decided
(``SpokenOperations.unspeakable``); here are the rules a schema cannot say."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chargeledger.domain import commands_201 as c
from chargeledger.domain import events as e
from chargeledger.domain.configuration import check_change
from chargeledger.domain.enums import ChargingProfilePurpose, one_of
from chargeledger.domain.errors import InvalidCommandError
from chargeledger.domain.operations.arguments import Opening, at_least_zero, connector_of

if TYPE_CHECKING:
    from chargeledger.domain.station_state import StationState

CHARGING_LIMIT_SOURCES = ("EMS", "Other", "SO", "CSO")
COMPONENT_CRITERIA = ("Active", "Available", "Enabled", "Problem")
MAX_NAME_LENGTH = 50
"""OCPP 2.0.1's longest component or variable name."""
MAX_VARIABLE_VALUE_LENGTH = 1000


def _each_of(what: str, values: list[str] | None, allowed: tuple[str, ...]) -> None:
    for value in values or ():
        if value not in allowed:
            raise InvalidCommandError(f"{what} {value!r} is not one of {', '.join(allowed)}")


def _key(key: str) -> None:
    for part in key.split("/"):
        if not 1 <= len(part) <= MAX_NAME_LENGTH:
            raise InvalidCommandError(
                f"{key!r}: each part of Component/Variable is 1 to {MAX_NAME_LENGTH} characters"
            )


def get_charging_profiles(
    command: c.RequestGetChargingProfiles, state: StationState, opening: Opening
) -> e.CommandRequested:
    connector_of(command, command.connector_id)
    purpose = command.charging_profile_purpose
    at_least_zero([("stack_level", command.stack_level)])
    _each_of("charging_limit_source", command.charging_limit_source, CHARGING_LIMIT_SOURCES)
    return e.GetChargingProfilesRequested(
        **opening,
        connector_id=command.connector_id,
        charging_profile_purpose=None
        if purpose is None
        else one_of("charging profile purpose", ChargingProfilePurpose, purpose),
        stack_level=command.stack_level,
        charging_profile_id=command.charging_profile_id,
        charging_limit_source=command.charging_limit_source,
    )


def get_report(
    command: c.RequestGetReport, state: StationState, opening: Opening
) -> e.CommandRequested:
    for key in command.component_variable or ():
        if key.count("/") > 1:
            raise InvalidCommandError(f"{key!r}: write Component or Component/Variable")
        _key(key)
    _each_of("component_criteria", command.component_criteria, COMPONENT_CRITERIA)
    return e.GetReportRequested(
        **opening,
        component_variable=command.component_variable,
        component_criteria=command.component_criteria,
    )


def set_variables(
    command: c.RequestSetVariables, state: StationState, opening: Opening
) -> e.CommandRequested:
    if not command.variables:
        raise InvalidCommandError("name at least one variable to set")
    keys = [setting["key"] for setting in command.variables]
    if len(set(keys)) < len(keys):
        raise InvalidCommandError("each key may appear once in variables")
    for setting in command.variables:
        _key(setting["key"])
        check_change(command.configuration, setting["key"])  # a variable it said it has not
        if len(setting["value"]) > MAX_VARIABLE_VALUE_LENGTH:
            raise InvalidCommandError(
                f"the value of {setting['key']} is longer than {MAX_VARIABLE_VALUE_LENGTH}"
            )
    variables = [{"key": s["key"], "value": s["value"]} for s in command.variables]
    return e.SetVariablesRequested(**opening, variables=variables)


NETWORK_SECRETS = tuple(
    f"connection_data.{path}"
    for path in ("vpn.password", "vpn.key", "apn.apn_password", "apn.sim_pin")
)
"""What of a network profile only the station may hear: its VPN and APN credentials."""


def set_network_profile(
    command: c.RequestSetNetworkProfile, state: StationState, opening: Opening
) -> e.CommandRequested:
    at_least_zero([("configuration_slot", command.configuration_slot)])
    return e.SetNetworkProfileRequested(
        **opening,
        configuration_slot=command.configuration_slot,
        connection_data=dict(command.connection_data),
    )
