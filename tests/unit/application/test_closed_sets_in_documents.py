"""Closed sets read from stored documents as types (issue 12): a transaction's recorded
status and a twin's connector statuses come back as members, the spellings documents of
older versions hold still read, and a twin holding a spelling outside the set does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.adapters.sqlite_documents import SQLiteDocumentStore
from chargeledger.application.charging_profile_library import ChargingProfileLibrary
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.id_tags import IdTagRegistry, InvalidIdTagError
from chargeledger.application.local_lists import NamedLocalLists
from chargeledger.application.operator_commands import OperationInputs, OperatorCommands
from chargeledger.application.ports import DocumentWrite
from chargeledger.application.read_model_documents import TRANSACTIONS, transaction_key
from chargeledger.application.twin_documents import twin_from_doc, twin_to_doc
from chargeledger.application.twin_service import TWINS, TwinService
from chargeledger.bootstrap import build_use_cases
from chargeledger.config import Settings
from chargeledger.domain.enums import AuthorizationStatus, ConnectorStatus, TransactionStatus
from chargeledger.domain.errors import TransactionNotFoundError
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore

# As a version before the ``unconfirmed`` flag projected an open session the station
# lost track of: the status itself said so.
OLD_UNCONFIRMED = {
    "transaction_id": 7,
    "station_id": "CP1",
    "connector_id": 1,
    "status": "unconfirmed",
    "stopped_at": None,
}


def operator_over(documents: InMemoryDocumentStore) -> OperatorCommands:
    store, clock = MemoryEventStore(), FakeClock()
    twin = TwinService(documents, clock)
    return build_use_cases(
        Settings(), clock, CommandHandler(store, clock), documents, twin, store
    ).operator


def inputs_over(documents: InMemoryDocumentStore) -> OperationInputs:
    clock = FakeClock()
    return OperationInputs(
        documents,
        ChargingProfileLibrary(documents, clock),
        IdTagRegistry(documents, clock),
        clock,
        False,
        NamedLocalLists(documents, clock),
    )


async def test_an_old_document_s_unconfirmed_status_still_reads_as_it_was() -> None:
    documents = InMemoryDocumentStore()
    await documents.write([DocumentWrite(TRANSACTIONS, transaction_key(7), OLD_UNCONFIRMED)])
    recorded = await inputs_over(documents).recorded_transaction("CP1", 7)
    assert recorded is not None and recorded.status == "unconfirmed"
    assert recorded.on_this_station


async def test_a_remote_stop_of_an_old_unconfirmed_record_is_refused_as_before() -> None:
    documents = InMemoryDocumentStore()
    await documents.write([DocumentWrite(TRANSACTIONS, transaction_key(7), OLD_UNCONFIRMED)])
    operator = operator_over(documents)
    with pytest.raises(TransactionNotFoundError, match="transaction 7 is unconfirmed"):
        await operator.request("CP1", "k1", "remote-stop", {"transaction_id": 7})


async def test_a_recorded_status_reads_as_a_member() -> None:
    documents = InMemoryDocumentStore()
    stopped = {**OLD_UNCONFIRMED, "status": "stopped", "stop_reason": "Local"}
    await documents.write([DocumentWrite(TRANSACTIONS, transaction_key(7), stopped)])
    recorded = await inputs_over(documents).recorded_transaction("CP1", 7)
    assert recorded is not None and recorded.status is TransactionStatus.STOPPED


async def test_a_stored_twin_reads_its_statuses_as_members_and_writes_the_same_bytes(
    tmp_path: Path,
) -> None:
    database = SQLiteDatabase(tmp_path / "twins.db")
    documents = SQLiteDocumentStore(database)
    try:
        before = TwinService(documents, FakeClock())
        before.status_notified("CP1", 1, "SuspendedEV", "NoError")
        before.evse_status_notified("CP2", 1, 2, "Occupied", "2026-01-01T00:00:00Z", "t")
        await before.flush()
        stored = await documents.get(TWINS, "CP2")
        assert stored is not None
        assert stored["connectors"]["1"]["evse_connectors"] == [[2, "Occupied"]]
        after = TwinService(documents, FakeClock())
        await after.load(shared=True)
        one, two = after.get("CP1"), after.get("CP2")
        assert one is not None and one.connectors[1].status is ConnectorStatus.SUSPENDED_EV
        assert two is not None and two.connectors[1].status is ConnectorStatus.OCCUPIED
        assert two.connectors[1].evse_connectors == ((2, ConnectorStatus.OCCUPIED),)
        assert twin_to_doc(two) == twin_to_doc(twin_from_doc(stored))
        assert after.quarantine.items() == []
    finally:
        await database.close()


def test_a_twin_with_a_connector_status_outside_the_set_does_not_read() -> None:
    connector = {"status": "Sleeping", "error_code": "NoError"}
    with pytest.raises(ValueError, match="Sleeping"):
        twin_from_doc({"station_id": "CP1", "connectors": {"1": connector}})
    evse = {"status": "Available", "error_code": "NoError", "evse_connectors": [[1, "Nope"]]}
    with pytest.raises(ValueError, match="Nope"):
        twin_from_doc({"station_id": "CP1", "connectors": {"1": evse}})


async def test_an_id_tag_s_status_is_stored_as_a_member_and_reads_back_its_spelling(
    tmp_path: Path,
) -> None:
    database = SQLiteDatabase(tmp_path / "tags.db")
    try:
        registry = IdTagRegistry(SQLiteDocumentStore(database), FakeClock())
        put = await registry.put("TAG-1", "Blocked")
        assert put["status"] is AuthorizationStatus.BLOCKED
        stored = await registry.get("TAG-1")
        assert stored is not None and stored["status"] == "Blocked"
        with pytest.raises(InvalidIdTagError, match="Sleeping"):
            await registry.put("TAG-2", "Sleeping")
    finally:
        await database.close()
