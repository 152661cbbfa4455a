"""Integers that arrive as floats, numbers and times beyond any real value (issue 10,
items 1 and 8): refused with the CALLERROR OCPP-J names, before anything stores them."""

from __future__ import annotations

from typing import Any

import pytest

from chargeledger.adapters.ocpp import framing, schemas

STATUS = {"errorCode": "NoError", "status": "Available"}


def _code(action: str, payload: dict[str, Any]) -> str | None:
    try:
        schemas.check(action, payload)
    except schemas.PayloadError as error:
        return error.code
    return None


@pytest.mark.parametrize("connector", [1.0, 2e0, 0.0, 1e308])
def test_an_integer_as_a_float_is_a_type_constraint_violation(connector: float) -> None:
    payload = framing.parse(
        f'[2,"1","StatusNotification",{{"connectorId":{connector!r},'
        '"errorCode":"NoError","status":"Available"}]'
    )
    assert isinstance(payload, framing.Call)
    assert _code("StatusNotification", payload.payload) == framing.TYPE_CONSTRAINT_VIOLATION


def test_a_float_deep_inside_is_found_too() -> None:
    payload = {
        "connectorId": 1,
        "transactionId": 7.0,
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}],
    }
    assert _code("MeterValues", payload) == framing.TYPE_CONSTRAINT_VIOLATION
    start = {"connectorId": 1, "idTag": "T", "meterStart": 1e3, "timestamp": "2026-01-01T00:00Z"}
    assert _code("StartTransaction", start) == framing.TYPE_CONSTRAINT_VIOLATION


@pytest.mark.parametrize("connector", [-1, 256, 1000, 2**63, -(2**63)])
def test_connector_ids_beyond_any_station_are_refused(connector: int) -> None:
    payload = {"connectorId": connector, **STATUS}
    assert _code("StatusNotification", payload) == framing.PROPERTY_CONSTRAINT_VIOLATION


def test_real_connector_ids_pass() -> None:
    for connector in (0, 1, 2, 255):
        assert _code("StatusNotification", {"connectorId": connector, **STATUS}) is None


@pytest.mark.parametrize("meter_start", [2**31, 2**63, -(2**31) - 1])
def test_integers_beyond_32_bits_are_refused(meter_start: int) -> None:
    start = {
        "connectorId": 1,
        "idTag": "T",
        "meterStart": meter_start,
        "timestamp": "2026-01-01T00:00:00Z",
    }
    assert _code("StartTransaction", start) == framing.PROPERTY_CONSTRAINT_VIOLATION


@pytest.mark.parametrize(
    "timestamp",
    [
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "1969-12-31T23:59:59Z",
        "2026-02-30T00:00:00Z",
        "2026-13-01T00:00:00Z",
    ],
)
def test_times_outside_real_years_or_the_calendar_are_refused(timestamp: str) -> None:
    payload = {"connectorId": 1, **STATUS, "timestamp": timestamp}
    assert _code("StatusNotification", payload) == framing.PROPERTY_CONSTRAINT_VIOLATION


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00.123456789+02:00",
        "2026-01-01 00:00",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00+0200",
        "1970-01-01T00:00:00z",
    ],
)
def test_the_times_real_stations_send_pass(timestamp: str) -> None:
    payload = {"connectorId": 1, **STATUS, "timestamp": timestamp}
    assert _code("StatusNotification", payload) is None


def test_a_huge_decimal_in_an_answer_is_refused() -> None:
    answer = {
        "status": "Accepted",
        "connectorId": 1,
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1e308}],
        },
    }
    assert _code("GetCompositeScheduleResponse", answer) == framing.PROPERTY_CONSTRAINT_VIOLATION
    answer["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = 32.5  # type: ignore[index]
    assert _code("GetCompositeScheduleResponse", answer) is None
