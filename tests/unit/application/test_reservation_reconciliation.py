"""A reserve-now in doubt is reconciled from the twin: a connector that reports Reserved
since the station came back shows the reservation took."""

from __future__ import annotations

from typing import Any

from chargeledger.application.reconciliation import observed_effect
from chargeledger.domain import twin as t


def payload(connector_id: int) -> dict[str, Any]:
    return {"reservation_id": 1, "connector_id": connector_id, "id_tag": "T"}


def test_a_connector_reporting_reserved_is_the_evidence() -> None:
    twin = t.status_notified(t.StationTwin("CP1"), 1, "Reserved", "NoError")
    assert observed_effect("reserve-now", payload(1), [], twin) == (
        "connector 1 reports Reserved since the station came back"
    )


def test_anything_else_is_no_evidence() -> None:
    available = t.status_notified(t.StationTwin("CP1"), 1, "Available", "NoError")
    assert observed_effect("reserve-now", payload(1), [], available) is None
    assert observed_effect("reserve-now", payload(1), [], None) is None
    reserved = t.status_notified(t.StationTwin("CP1"), 0, "Reserved", "NoError")
    assert observed_effect("reserve-now", payload(0), [], reserved) is None
