"""The operations only OCPP 2.0.1 has, and a reset of one EVSE, on the station
decider: given a booted station, when the command comes, then its event or a refusal."""

from __future__ import annotations

import pytest

from chargeledger.domain import commands as c
from chargeledger.domain import commands_201 as c201
from chargeledger.domain import events as e
from chargeledger.domain.configuration import ConfigurationSnapshot
from chargeledger.domain.errors import (
    CommandPendingError,
    InvalidCommandError,
    UnknownConfigurationKeyError,
)
from tests.unit.domain.operation_scenario import common
from tests.unit.domain.scenario import booted, given, when


def set_variables(command_id: str, *pairs: tuple[str, str]) -> c201.RequestSetVariables:
    variables = [{"key": key, "value": value} for key, value in pairs]
    return c201.RequestSetVariables(variables=variables, **common(command_id))


def test_several_variables_are_set_in_one_command_holding_the_station() -> None:
    [event] = when(given(booted()), set_variables("sv-1", ("A/B", "1"), ("C/D", "2")))
    assert isinstance(event, e.SetVariablesRequested)
    assert event.payload() == {
        "variables": [{"key": "A/B", "value": "1"}, {"key": "C/D", "value": "2"}]
    }
    with pytest.raises(CommandPendingError):
        when(given(booted(), event), set_variables("sv-2", ("E/F", "1")))


@pytest.mark.parametrize(
    "pairs",
    [(), (("A/B", "1"), ("A/B", "2")), (("/B", "1"),), (("A/" + "x" * 51, "1"),)],
)
def test_no_variable_a_repeated_one_or_a_bad_name_is_refused(
    pairs: tuple[tuple[str, str], ...],
) -> None:
    with pytest.raises(InvalidCommandError):
        when(given(booted()), set_variables("sv-x", *pairs))


def test_a_report_names_components_or_their_variables_and_known_criteria() -> None:
    report = c201.RequestGetReport(
        component_variable=["EVSE", "OCPPCommCtrlr/HeartbeatInterval"],
        component_criteria=["Problem"],
        **common("gr-1"),
    )
    [event] = when(given(booted()), report)
    assert isinstance(event, e.GetReportRequested)
    with pytest.raises(InvalidCommandError, match="Component or Component/Variable"):
        when(
            given(booted()),
            c201.RequestGetReport(component_variable=["A/B/C"], **common("gr-2")),
        )
    with pytest.raises(InvalidCommandError, match="component_criteria"):
        when(
            given(booted()),
            c201.RequestGetReport(component_criteria=["Broken"], **common("gr-3")),
        )


def test_charging_profiles_are_asked_by_known_purpose_and_source() -> None:
    asked = c201.RequestGetChargingProfiles(
        connector_id=0, charging_profile_purpose="TxDefaultProfile", **common("gcp-1")
    )
    [event] = when(given(booted()), asked)
    assert event.payload()["charging_profile_purpose"] == "TxDefaultProfile"
    for wrong in (
        {"charging_profile_purpose": "Max"},
        {"charging_limit_source": ["Grid"]},
        {"stack_level": -1},
    ):
        with pytest.raises(InvalidCommandError):
            when(given(booted()), c201.RequestGetChargingProfiles(**wrong, **common("gcp-2")))


def test_a_network_profile_holds_its_slot() -> None:
    data = {"ocpp_csms_url": "wss://x"}
    profile = c201.RequestSetNetworkProfile(
        configuration_slot=1, connection_data=data, **common("np-1")
    )
    [event] = when(given(booted()), profile)
    assert event.payload() == {"configuration_slot": 1, "connection_data": data}
    other_slot = c201.RequestSetNetworkProfile(
        configuration_slot=2, connection_data=data, **common("np-2")
    )
    assert when(given(booted(), event), other_slot) != []


def test_a_reset_of_one_evse_says_which_and_a_whole_reset_reads_as_before() -> None:
    [one] = when(given(booted()), c.RequestReset(reset_type="Soft", evse_id=2, **common("r-1")))
    assert one.payload() == {"type": "Soft", "evse_id": 2}
    [whole] = when(given(booted()), c.RequestReset(reset_type="Hard", **common("r-2")))
    assert whole.payload() == {"type": "Hard"}


def test_a_variable_the_station_said_it_does_not_have_is_refused_as_a_1_6_key_is() -> None:
    reported = ConfigurationSnapshot.of(unsupported=["No/Such"], readonly=[])
    command = c201.RequestSetVariables(
        variables=[{"key": "A/B", "value": "1"}, {"key": "no/such", "value": "2"}],
        configuration=reported,
        **common("sv-u"),
    )
    with pytest.raises(UnknownConfigurationKeyError, match="'no/such'"):
        when(given(booted()), command)
