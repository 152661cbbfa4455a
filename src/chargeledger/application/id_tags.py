"""The id-tag registry that Authorize and StartTransaction consult.

One document per tag: its stored status (any OCPP 1.6 AuthorizationStatus) and an
optional expiry, normalised to UTC. The verdict a station gets is the domain's
``authorize``: an unknown tag is Invalid, a passed expiry is Expired.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from chargeledger.application.ports import Clock, DocumentStore, DocumentWrite
from chargeledger.application.read_model_shapes import IdTagDoc
from chargeledger.domain.enums import AuthorizationStatus
from chargeledger.domain.id_tags import STORED_STATUSES, IdTagInfo, IdTagRecord, authorize
from chargeledger.domain.timestamps import instant, iso_z
from chargeledger.errors import ChargeledgerError

ID_TAGS = "id_tag"
MAX_ID_TAG_LENGTH = 20
"""OCPP 1.6 ``IdToken``: at most 20 characters."""


class InvalidIdTagError(ChargeledgerError, ValueError):
    """An id tag, status or expiry that the registry cannot store; says what to send."""


def normalise_expiry(expiry: str | datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z``; a time without a zone is taken as UTC."""
    if expiry is None:
        return None
    if isinstance(expiry, str):
        try:
            expiry = instant(expiry)
        except ValueError:
            raise InvalidIdTagError(
                f"expiry {expiry!r} is not ISO-8601; send e.g. 2026-12-31T23:59:59Z"
            ) from None
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    return iso_z(expiry)


def check_id_tag(id_tag: str) -> None:
    if not 1 <= len(id_tag) <= MAX_ID_TAG_LENGTH:
        raise InvalidIdTagError(
            f"id tag {id_tag!r} must be 1 to {MAX_ID_TAG_LENGTH} characters (OCPP 1.6 IdToken)"
        )
    # A control character (U+0000 above all: PostgreSQL text cannot hold it) or a lone
    # surrogate can be neither stored everywhere nor sent to a station.
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in id_tag):
        raise InvalidIdTagError(
            f"id tag {id_tag!r} holds a control character or a lone surrogate; send printable text"
        )


def record_of(doc: Mapping[str, Any]) -> IdTagRecord:
    """A stored tag document as the domain reads it (``put`` checked its status)."""
    return IdTagRecord(doc["id_tag"], AuthorizationStatus(doc["status"]), doc.get("expiry"))


class IdTagRegistry:
    def __init__(self, documents: DocumentStore, clock: Clock) -> None:
        self._documents = documents
        self._clock = clock

    async def put(self, id_tag: str, status: str, expiry: str | datetime | None = None) -> IdTagDoc:
        """Add or replace a tag; the stored document."""
        check_id_tag(id_tag)
        if status not in STORED_STATUSES:
            raise InvalidIdTagError(f"status {status!r} is not one of {', '.join(STORED_STATUSES)}")
        doc: IdTagDoc = {
            "id_tag": id_tag,
            "status": AuthorizationStatus(status),
            "expiry": normalise_expiry(expiry),
            "updated_at": self._clock.now().isoformat(),
        }
        await self._documents.write([DocumentWrite(ID_TAGS, id_tag, doc)])
        return doc

    async def remove(self, id_tag: str) -> bool:
        """Whether the tag was there; afterwards it answers Invalid."""
        if await self._documents.get(ID_TAGS, id_tag) is None:
            return False
        await self._documents.write([DocumentWrite(ID_TAGS, id_tag, None)])
        return True

    async def get(self, id_tag: str) -> IdTagDoc | None:
        return cast("IdTagDoc | None", await self._documents.get(ID_TAGS, id_tag))

    async def list(self) -> list[IdTagDoc]:
        return cast("list[IdTagDoc]", await self._documents.list(ID_TAGS))

    async def authorize(self, id_tag: str) -> IdTagInfo:
        """The verdict on ``id_tag`` now."""
        doc = await self._documents.get(ID_TAGS, id_tag)
        record = None if doc is None else record_of(doc)
        return authorize(record, self._clock.now())
