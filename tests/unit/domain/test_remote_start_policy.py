"""The domain service that consults the twin's snapshot for a remote start."""

from __future__ import annotations

import pytest

from chargeledger.domain.errors import ConnectorNotAvailableError, UnknownConnectorError
from chargeledger.domain.remote_start_policy import (
    NO_SNAPSHOT,
    check_connector_exists,
    check_remote_start,
)
from tests.unit.domain.scenario import twin


def test_with_no_snapshot_nothing_is_ruled_out() -> None:
    check_remote_start(NO_SNAPSHOT, 3)


@pytest.mark.parametrize(
    "status", ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Reserved"]
)
def test_only_faulted_and_unavailable_refuse(status: str) -> None:
    check_remote_start(twin(c1=status), 1)


def test_a_faulted_connector_refuses_and_says_what_to_wait_for() -> None:
    with pytest.raises(ConnectorNotAvailableError, match="once it is Available"):
        check_remote_start(twin(c1="Faulted"), 1)


def test_a_report_about_the_station_alone_does_not_make_connectors_unknown() -> None:
    check_connector_exists(twin(c0="Available"), 2)


def test_an_unreported_connector_is_unknown_once_others_were_reported() -> None:
    with pytest.raises(UnknownConnectorError):
        check_connector_exists(twin(c1="Available"), 2)
