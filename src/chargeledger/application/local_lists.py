"""Named local authorization lists kept by the CSMS (``PUT /api/local-lists/{name}``):
each a set of entries an operator sends to the stations that should hold it, with
send-local-list ``{"list_name": ...}``, instead of the whole id-tag registry.

An entry is ``{"id_tag", "status", "expiry", "parent_id_tag"}`` as the API takes it;
sent, it becomes the id tag's ``idTagInfo`` (snake_case) as the domain carries it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from chargeledger.application.document_shapes import LocalListEntryDoc, NamedLocalListDoc
from chargeledger.application.ports import Clock, DocumentStore, DocumentWrite
from chargeledger.domain.events import IdTagInfoEntry
from chargeledger.domain.timestamps import iso_z
from chargeledger.errors import ChargeledgerError

LOCAL_LIST_NAMES = "named_local_list"
MAX_LIST_NAME_LENGTH = 64


class LocalListNotFoundError(ChargeledgerError, LookupError):
    """No named local list by that name; ``PUT /api/local-lists/{name}`` makes one."""


def as_sent(entries: Iterable[Mapping[str, Any]]) -> dict[str, IdTagInfoEntry | None]:
    """Id tag to the ``idTagInfo`` the station is to hold (``None``: remove the tag)."""
    sent: dict[str, IdTagInfoEntry | None] = {}
    for entry in entries:
        if entry.get("status") is None:
            sent[entry["id_tag"]] = None
            continue
        info: IdTagInfoEntry = {"status": entry["status"]}
        if entry.get("expiry") is not None:
            info["expiry_date"] = entry["expiry"]
        if entry.get("parent_id_tag") is not None:
            info["parent_id_tag"] = entry["parent_id_tag"]
        sent[entry["id_tag"]] = info
    return sent


class NamedLocalLists:
    def __init__(self, documents: DocumentStore, clock: Clock) -> None:
        self._documents = documents
        self._clock = clock

    async def put(self, name: str, entries: list[LocalListEntryDoc]) -> NamedLocalListDoc:
        """Store (or replace) the named list; its document."""
        doc: NamedLocalListDoc = {
            "name": name,
            "entries": entries,
            "updated_at": iso_z(self._clock.now()),
        }
        await self._documents.write([DocumentWrite(LOCAL_LIST_NAMES, name, doc)])
        return doc

    async def get(self, name: str) -> NamedLocalListDoc | None:
        # Its shape is checked on every read (``quarantine.SHAPES``).
        return cast("NamedLocalListDoc | None", await self._documents.get(LOCAL_LIST_NAMES, name))

    async def remove(self, name: str) -> bool:
        if await self.get(name) is None:
            return False
        await self._documents.write([DocumentWrite(LOCAL_LIST_NAMES, name, None)])
        return True

    async def entries(self, name: str) -> dict[str, IdTagInfoEntry | None]:
        """The named list's entries as sent; ``LocalListNotFoundError`` if there is none."""
        doc = await self.get(name)
        if doc is None:
            raise LocalListNotFoundError(
                f"no local list {name!r}; store it with PUT /api/local-lists/{name} first"
            )
        return as_sent(doc["entries"])
