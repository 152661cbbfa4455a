"""U+0000 in any string of a station's payload is refused before anything stores it:
PostgreSQL keeps no text holding it, and on a PostgreSQL node it failed the boot, the
transactions and every later twin flush (issue 10, found by tests/fuzz)."""

from __future__ import annotations

import pytest

from chargeledger.adapters.ocpp import framing, schemas


@pytest.mark.parametrize(
    ("action", "payload", "where"),
    [
        ("BootNotification", {"chargePointVendor": "a\x00", "chargePointModel": "m"}, "Vendor"),
        ("Authorize", {"idTag": "\x00"}, "idTag"),
        ("DataTransfer", {"vendorId": "v", "data": "x\x00y"}, "data"),
        (
            "MeterValues",
            {
                "connectorId": 1,
                "meterValue": [
                    {"timestamp": "2024-01-01T00:00:00Z", "sampledValue": [{"value": "1\x00"}]}
                ],
            },
            "meterValue[0].sampledValue[0].value",
        ),
    ],
)
def test_a_nul_in_a_string_is_a_property_constraint_violation(
    action: str, payload: dict[str, object], where: str
) -> None:
    with pytest.raises(schemas.PayloadError) as refused:
        schemas.check(action, payload)
    assert refused.value.code == framing.PROPERTY_CONSTRAINT_VIOLATION
    assert where in refused.value.description


def test_text_without_nul_passes() -> None:
    schemas.check("DataTransfer", {"vendorId": "v", "data": "é \u2028 \x01 😀"})
    schemas.check("Heartbeat", {})
