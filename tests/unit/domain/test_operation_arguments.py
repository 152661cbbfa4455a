"""The other operations of the six profiles on the station decider: their arguments,
the configuration the station reported, and one command per slot."""

from __future__ import annotations

import pytest

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.configuration import ConfigurationSnapshot
from chargeledger.domain.errors import (
    CommandPendingError,
    InvalidCommandError,
    ReadonlyConfigurationKeyError,
    StationNotRegisteredError,
    UnknownConfigurationKeyError,
    UnknownConnectorError,
)
from chargeledger.domain.station import fold, requested_event, same_request
from tests.unit.domain.operation_scenario import change_configuration, common
from tests.unit.domain.scenario import booted, given, twin, when

REPORTED = ConfigurationSnapshot.of(unsupported=["NoSuchKey"], readonly=["NumberOfConnectors"])


def test_a_key_the_station_said_it_does_not_support_is_refused_whatever_its_case() -> None:
    with pytest.raises(UnknownConfigurationKeyError, match=r"does not support .*'nosuchkey'"):
        when(given(booted()), change_configuration("nosuchkey", snapshot=REPORTED))


def test_a_key_the_station_reported_read_only_is_refused() -> None:
    with pytest.raises(ReadonlyConfigurationKeyError, match="read-only"):
        when(given(booted()), change_configuration("NumberOfConnectors", snapshot=REPORTED))


def test_a_key_the_station_never_mentioned_goes_to_it() -> None:
    decided = when(
        given(booted()), change_configuration("MeterValueSampleInterval", "60", REPORTED)
    )
    assert decided[0].payload() == {"key": "MeterValueSampleInterval", "value": "60"}


def test_one_change_per_configuration_key_at_a_time() -> None:
    history = given(booted(), *when(given(booted()), change_configuration("A", "1")))
    assert when(history, change_configuration("A", "1")) == []
    assert same_request(change_configuration("A", "1"), fold(history)) == "cfg-A-1"
    with pytest.raises(CommandPendingError):
        when(history, change_configuration("A", "2"))
    assert when(history, change_configuration("B", "2")) != []


def test_one_firmware_update_at_a_time() -> None:
    def update(command_id: str, location: str) -> c.RequestUpdateFirmware:
        return c.RequestUpdateFirmware(
            location=location, retrieve_date="2026-02-01T00:00:00Z", **common(command_id)
        )

    history = given(booted(), *when(given(booted()), update("fw-1", "https://a/1.bin")))
    with pytest.raises(CommandPendingError, match="update-firmware fw-1"):
        when(history, update("fw-2", "https://a/2.bin"))


def test_reads_wait_only_for_an_identical_one() -> None:
    def ask(command_id: str, keys: list[str] | None) -> c.RequestGetConfiguration:
        return c.RequestGetConfiguration(key=keys, **common(command_id))

    history = given(booted(), *when(given(booted()), ask("get-1", None)))
    assert when(history, ask("get-2", None)) == [e.CommandMerged("get-2", "get-1")]
    assert when(history, ask("get-3", ["HeartbeatInterval"])) != []


@pytest.mark.parametrize(
    ("command", "names"),
    [
        (
            c.RequestGetConfiguration(key=["x" * 51], **common("a")),
            "configuration key must be 1 to 50",
        ),
        (c.RequestChangeConfiguration(key="", value="1", **common("b")), "key must be 1 to 50"),
        (
            c.RequestChangeConfiguration(key="K", value="v" * 501, **common("c")),
            "value must be 0 to 500",
        ),
        (c.RequestDataTransfer(vendor_id="", **common("d")), "vendor_id must be 1 to 255"),
        (c.RequestDataTransfer(vendor_id="v", message_id="m" * 51, **common("e")), "message_id"),
        (
            c.RequestUpdateFirmware(location="l", retrieve_date="soon", **common("f")),
            "retrieve_date",
        ),
        (
            c.RequestUpdateFirmware(
                location="l", retrieve_date="2026-01-01T00:00:00Z", retries=-1, **common("g")
            ),
            "retries must be 0 or more",
        ),
        (
            c.RequestGetDiagnostics(
                location="l",
                start_time="2026-01-02T00:00:00Z",
                stop_time="2026-01-01T00:00:00Z",
                **common("h"),
            ),
            "start_time 2026-01-02T00:00:00Z is not before stop_time",
        ),
        (
            c.RequestGetCompositeSchedule(connector_id=1, duration=0, **common("i")),
            "duration must be positive",
        ),
        (
            c.RequestGetCompositeSchedule(
                connector_id=1, duration=60, charging_rate_unit="kW", **common("j")
            ),
            "charging_rate_unit 'kW'",
        ),
    ],
)
def test_arguments_outside_ocpp_1_6_are_refused_naming_them(
    command: c.OperatorCommand, names: str
) -> None:
    with pytest.raises(InvalidCommandError, match=names):
        when(given(booted()), command)


def test_connectors_the_station_does_not_have_are_refused() -> None:
    snapshot = twin(c1="Available")
    command = c.RequestGetCompositeSchedule(
        connector_id=2, duration=60, **{**common("k"), "twin": snapshot}
    )
    with pytest.raises(UnknownConnectorError):
        when(given(booted()), command)
    whole = c.RequestGetCompositeSchedule(
        connector_id=0, duration=60, **{**common("l"), "twin": snapshot}
    )
    assert when(given(booted()), whole) != []


def test_each_request_carries_the_api_body_as_its_payload() -> None:
    diagnostics = c.RequestGetDiagnostics(location="ftp://x", retries=1, **common("m"))
    assert requested_event(diagnostics).payload() == {
        "location": "ftp://x",
        "retries": 1,
        "retry_interval": None,
        "start_time": None,
        "stop_time": None,
    }
    assert requested_event(c.RequestClearCache(**common("n"))).payload() == {}
    assert isinstance(
        requested_event(c.RequestGetLocalListVersion(**common("o"))), e.GetLocalListVersionRequested
    )


def test_a_rejected_station_takes_none_of_them() -> None:
    with pytest.raises(StationNotRegisteredError):
        when(given(booted("Rejected")), c.RequestClearCache(**common("p")))
