"""Charging sessions from the station's side, with fakes of our ports."""

from __future__ import annotations

from chargeledger.adapters.memory import InMemoryDocumentStore, InMemoryEventStore
from chargeledger.application.charging_sessions import ChargingSessions
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.id_tags import IdTagRegistry
from chargeledger.application.twin_service import TwinService
from chargeledger.domain import events as e
from chargeledger.domain.id_tags import IdTagInfo
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore

STAMP = "2026-01-01T00:01:00Z"


async def sessions() -> tuple[ChargingSessions, InMemoryEventStore, IdTagRegistry]:
    store, documents, clock = MemoryEventStore(), InMemoryDocumentStore(), FakeClock()
    tags = IdTagRegistry(documents, clock)
    await tags.put("GOOD", "Accepted", "2027-01-01T00:00:00Z")
    await tags.put("BAD", "Blocked")
    twin = TwinService(documents, clock)
    return ChargingSessions(CommandHandler(store, clock), documents, tags, twin), store, tags


async def test_authorize_answers_from_the_registry_and_records_nothing() -> None:
    use_case, store, _ = await sessions()
    assert await use_case.authorize("CP1", "GOOD") == IdTagInfo("Accepted", "2027-01-01T00:00:00Z")
    assert await use_case.authorize("CP1", "BAD") == IdTagInfo("Blocked")
    assert await use_case.authorize("CP1", "NOBODY") == IdTagInfo("Invalid")
    assert store.log == []


async def test_transaction_ids_are_unique_across_stations() -> None:
    use_case, _, _ = await sessions()
    first = await use_case.start_transaction("CP1", 1, "GOOD", 0, STAMP)
    second = await use_case.start_transaction("CP2", 1, "GOOD", 0, STAMP)
    assert first.transaction_id != second.transaction_id


async def test_a_retransmitted_start_gets_the_same_id_and_verdict_and_creates_nothing() -> None:
    """I7: a retransmitted StartTransaction gets the same transactionId and creates nothing."""
    use_case, store, tags = await sessions()
    first = await use_case.start_transaction("CP1", 1, "GOOD", 100, STAMP)
    await tags.put("GOOD", "Blocked")  # the answer the station missed still stands
    again = await use_case.start_transaction("CP1", 1, "GOOD", 100, STAMP)
    assert again == first
    assert [type(r.event) for r in store.log] == [e.TransactionStarted]


async def test_a_retransmission_after_the_stop_still_gets_the_same_id() -> None:
    """I7: a StartTransaction retransmitted after the stop still gets the same transactionId."""
    use_case, store, _ = await sessions()
    first = await use_case.start_transaction("CP1", 1, "GOOD", 100, STAMP)
    await use_case.stop_transaction("CP1", first.transaction_id, 900, "2026-01-01T01:00:00Z")
    again = await use_case.start_transaction("CP1", 1, "GOOD", 100, STAMP)
    assert again.transaction_id == first.transaction_id
    assert len(store.log) == 2


async def test_a_blocked_tag_still_gets_a_session_and_hears_it_is_blocked() -> None:
    use_case, _, _ = await sessions()
    answer = await use_case.start_transaction("CP1", 1, "BAD", 0, STAMP)
    assert answer.id_tag_info == IdTagInfo("Blocked")


async def test_a_repeated_stop_gets_the_same_answer_and_records_nothing() -> None:
    """I7: a retransmitted StopTransaction gets the same answer and records nothing."""
    use_case, store, tags = await sessions()
    started = await use_case.start_transaction("CP1", 1, "GOOD", 0, STAMP)
    first = await use_case.stop_transaction("CP1", started.transaction_id, 500, "t", "GOOD")
    await tags.remove("GOOD")
    again = await use_case.stop_transaction("CP1", started.transaction_id, 500, "t", "GOOD")
    assert again == first == IdTagInfo("Accepted", "2027-01-01T00:00:00Z")
    assert len(store.log) == 2


async def test_a_stop_for_an_unknown_transaction_is_answered_but_not_recorded() -> None:
    use_case, store, _ = await sessions()
    assert await use_case.stop_transaction("CP1", 404, 500, "t", "GOOD") == IdTagInfo(
        "Accepted", "2027-01-01T00:00:00Z"
    )
    assert store.log == []
