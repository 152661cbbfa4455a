"""A read-model document that its readers cannot use (issue 10) is quarantined by the
document store that reads it: the others of its model are listed, ``get`` answers
None, and the quarantine names it. Planted behind the store's back, on each durable
store; SQLite also with what only it can hold (invalid UTF-8, lone surrogates, 1e400)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargeledger.adapters.serialization import UnreadableDocumentError, loads_document
from chargeledger.application.ports import DocumentWrite
from chargeledger.application.quarantine import MisshapenDocumentError, Quarantine, check_shape
from tests.integration.store.conftest import Backend

INSERT = (
    "INSERT INTO documents (model, key, doc, tag) VALUES (%s, %s, %s, NULL) "
    "ON CONFLICT (model, key) DO UPDATE SET doc = excluded.doc"
)
EVERYWHERE = {
    "a-list": "[1, 2]",
    "a-string": '"x"',
    "a-null": "null",
    "no-id": '{"registration": "Accepted"}',
    "id-is-a-number": '{"id": 7}',
    "id-is-true": '{"id": true}',
}
SQLITE_ONLY = {
    "not-json": b"{nope",
    "not-utf8": b'{"id": "\xed\xa0\x80"}',
    "lone-surrogate": b'{"id": "\\ud800"}',
    "beyond-a-float": b'{"id": "X", "n": 1e400}',
    "nan": b'{"id": "X", "n": NaN}',
}


@pytest.mark.parametrize("damage", list(EVERYWHERE))
async def test_a_hostile_document_is_quarantined_and_the_others_read(
    durable: Backend, damage: str
) -> None:
    await _planted_and_quarantined(durable, EVERYWHERE[damage])


@pytest.mark.parametrize("damage", list(SQLITE_ONLY))
async def test_what_only_sqlite_can_hold_is_quarantined_too(tmp_path: Path, damage: str) -> None:
    # JSONB refuses each of these on the way in; SQLite TEXT keeps what it is given.
    backend = Backend("sqlite", f"sqlite:///{tmp_path / 'store.db'}")
    try:
        await _planted_and_quarantined(backend, SQLITE_ONLY[damage])
    finally:
        for store in backend.opened:
            await store.close()


async def _planted_and_quarantined(backend: Backend, raw: str | bytes) -> None:
    _, documents = await backend.open()
    await documents.write(
        [
            DocumentWrite("station", "A-GOOD", {"id": "A-GOOD"}),
            DocumentWrite("station", "Z-GOOD", {"id": "Z-GOOD"}),
        ]
    )
    insert = (
        INSERT.replace("%s, NULL", "CAST(%s AS TEXT), NULL") if isinstance(raw, bytes) else INSERT
    )
    backend.execute_sql(insert, ("station", "M-BAD", raw))

    listed = await documents.list("station")
    assert [doc["id"] for doc in listed] == ["A-GOOD", "Z-GOOD"]
    assert await documents.get("station", "M-BAD") is None
    quarantine: Quarantine = documents.quarantine  # type: ignore[attr-defined]
    assert [(q.model, q.key) for q in quarantine.items()] == [("station", "M-BAD")]
    json.dumps([q.view() for q in quarantine.items()]).encode("utf-8")


def test_loads_document_refuses_what_cannot_be_written_back_or_served() -> None:
    assert loads_document(b'{"a": [1, 2.5, "\\u00e9", "\\ud83d\\ude00"]}') == {
        "a": [1, 2.5, "é", "😀"]
    }
    for raw in SQLITE_ONLY.values():
        with pytest.raises(UnreadableDocumentError):
            loads_document(raw)
    with pytest.raises(UnreadableDocumentError):
        loads_document("[" * 100_000 + "]" * 100_000)


def test_check_shape_names_the_field_readers_need() -> None:
    check_shape("station", {"id": "CP-1", "anything": None})
    check_shape("unknown-model", {})
    for doc, says in [
        ({}, "no 'id' field"),
        ({"id": 1}, "'id' is int"),
        ({"id": None}, "'id' is NoneType"),
    ]:
        with pytest.raises(MisshapenDocumentError, match=says):
            check_shape("station", doc)
    with pytest.raises(MisshapenDocumentError, match="'transaction_id' is bool"):
        check_shape("transaction", {"station_id": "CP", "transaction_id": True})
    with pytest.raises(MisshapenDocumentError, match="configuration key"):
        check_shape("configuration", {"keys": {"K": "v"}, "unknown_keys": [], "reported_at": None})


def test_command_order_and_named_local_lists_have_their_shapes_checked_too() -> None:
    """Issue 10, restart safety: read without a check, a hostile entry of the command
    order made every GET /api/commands a 500, and one of a named local list was served
    half-read and made send-local-list a 500."""
    check_shape("command_order", {"key": "C-1", "name": "reset", "status": None})
    check_shape("named_local_list", {"name": "L", "entries": [], "updated_at": "t"})
    good_entry = {"id_tag": "T", "status": None}
    check_shape("named_local_list", {"name": "L", "entries": [good_entry], "updated_at": "t"})
    for model, doc, says in [
        ("command_order", {"name": "reset", "status": "requested"}, "no 'key' field"),
        ("command_order", {"key": 5, "name": None, "status": None}, "'key' is int"),
        ("named_local_list", {"name": "L", "updated_at": "t"}, "no 'entries' field"),
        ("named_local_list", {"name": "L", "entries": {}, "updated_at": "t"}, "'entries' is"),
        ("named_local_list", {"name": "L", "entries": [1], "updated_at": "t"}, "entry"),
        ("named_local_list", {"name": "L", "entries": [{}], "updated_at": "t"}, "entry"),
        (
            "named_local_list",
            {"name": "L", "entries": [{"id_tag": "T", "status": 5}], "updated_at": "t"},
            "entry",
        ),
    ]:
        with pytest.raises(MisshapenDocumentError, match=says):
            check_shape(model, doc)


def test_a_quarantined_key_with_a_lone_surrogate_is_still_reported() -> None:
    quarantine = Quarantine()
    quarantine.add("twin", "\ud800", ValueError("bad \udfff"))
    (found,) = quarantine.items()
    assert found.key == "\\ud800" and "\\udfff" in found.reason
    json.dumps(found.view(), ensure_ascii=False).encode("utf-8")
