"""The verdict on an id tag."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chargeledger.domain.id_tags import IdTagInfo, IdTagRecord, authorize

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_an_unknown_tag_is_invalid() -> None:
    assert authorize(None, NOW) == IdTagInfo("Invalid")


@pytest.mark.parametrize("status", ["Accepted", "Blocked", "Expired"])
def test_a_stored_status_is_the_verdict_while_the_expiry_is_ahead(status: str) -> None:
    record = IdTagRecord("T", status, "2026-12-31T00:00:00Z")
    assert authorize(record, NOW) == IdTagInfo(status, "2026-12-31T00:00:00Z")


def test_a_passed_expiry_makes_any_tag_expired() -> None:
    record = IdTagRecord("T", "Accepted", "2026-06-01T12:00:00Z")
    assert authorize(record, NOW).status == "Expired"


def test_an_expiry_without_a_zone_is_taken_as_utc() -> None:
    assert authorize(IdTagRecord("T", "Accepted", "2026-06-01T11:59:59"), NOW).status == "Expired"
    assert authorize(IdTagRecord("T", "Accepted", "2026-06-01T12:00:01"), NOW).accepted
