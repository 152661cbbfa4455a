"""The id-tag registry over a fake document store."""

from __future__ import annotations

import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.application.id_tags import IdTagRegistry, InvalidIdTagError
from chargeledger.domain.id_tags import IdTagInfo
from tests.fakes import FakeClock


def registry() -> tuple[IdTagRegistry, FakeClock]:
    clock = FakeClock()
    return IdTagRegistry(InMemoryDocumentStore(), clock), clock


async def test_a_tag_is_stored_with_its_expiry_in_utc() -> None:
    tags, _ = registry()
    doc = await tags.put("T1", "Accepted", "2026-03-01T12:00:00+01:00")
    assert doc["expiry"] == "2026-03-01T11:00:00Z"
    assert [d["id_tag"] for d in await tags.list()] == ["T1"]


async def test_a_tag_expires_when_its_time_comes() -> None:
    tags, clock = registry()
    await tags.put("T1", "Accepted", "2026-01-01T00:01:00Z")
    assert (await tags.authorize("T1")).accepted
    clock.advance(60)
    assert await tags.authorize("T1") == IdTagInfo("Expired", "2026-01-01T00:01:00Z")


async def test_a_removed_tag_is_invalid() -> None:
    tags, _ = registry()
    await tags.put("T1", "Accepted")
    assert await tags.remove("T1")
    assert not await tags.remove("T1")
    assert (await tags.authorize("T1")).status == "Invalid"


@pytest.mark.parametrize(
    ("tag", "status", "expiry", "says"),
    [
        ("", "Accepted", None, "1 to 20"),
        ("X" * 21, "Accepted", None, "1 to 20"),
        ("T", "Maybe", None, "Accepted, Blocked, Expired, Invalid, ConcurrentTx"),
        ("T", "Accepted", "next week", "ISO-8601"),
        ("T\x00X", "Accepted", None, "control character"),
        ("T\ud800", "Accepted", None, "lone surrogate"),
    ],
)
async def test_bad_input_is_refused_with_what_to_send(
    tag: str, status: str, expiry: str | None, says: str
) -> None:
    tags, _ = registry()
    with pytest.raises(InvalidIdTagError, match=says):
        await tags.put(tag, status, expiry)
    assert await tags.list() == []
