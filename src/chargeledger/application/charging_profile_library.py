"""Stored charging profiles: the operator's library, referable by id from
set-charging-profile and remote-start (``charging_profile_id``).

A profile is checked (domain/charging_profiles.py) before it is stored, so a
stored profile is always one a station can be sent. Changing a stored profile
changes nothing already sent: each command records the profile as it went.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from chargeledger.application.document_shapes import StoredProfileDoc
from chargeledger.application.ports import Clock, DocumentStore, DocumentWrite
from chargeledger.domain.charging_profiles import check_profile
from chargeledger.domain.errors import InvalidChargingProfileError
from chargeledger.domain.json_object import JsonObject
from chargeledger.errors import ChargeledgerError

CHARGING_PROFILES = "charging_profile"


class ChargingProfileNotFoundError(ChargeledgerError, LookupError):
    """A command names a stored charging profile that is not there."""

    def __init__(self, profile_id: int) -> None:
        super().__init__(
            f"no stored charging profile {profile_id}; "
            f"PUT it at /api/charging-profiles/{profile_id} first, or send it inline"
        )


def profile_key(profile_id: int) -> str:
    """Sign and zero-padding keep documents listed in key order in id order."""
    return f"{'-' if profile_id < 0 else '+'}{abs(profile_id):012d}"


class ChargingProfileLibrary:
    def __init__(self, documents: DocumentStore, clock: Clock) -> None:
        self._documents = documents
        self._clock = clock

    async def put(
        self,
        profile_id: int,
        profile: Mapping[str, Any],
        name: str | None = None,
        description: str | None = None,
    ) -> StoredProfileDoc:
        """Store (or replace) profile ``profile_id``; raises ``InvalidChargingProfileError``.
        ``name`` and ``description`` are the operator's, never sent to a station."""
        stored = {**profile, "charging_profile_id": profile_id}
        given = profile.get("charging_profile_id")
        if given is not None and given != profile_id:
            raise InvalidChargingProfileError(
                f"charging profile charging_profile_id: {given} in the body, {profile_id} in "
                "the path; leave it out of the body or make them equal"
            )
        check_profile(stored)
        doc: StoredProfileDoc = {
            "profile": stored,
            "name": name,
            "description": description,
            "updated_at": self._clock.now().isoformat(),
        }
        await self._documents.write(
            [DocumentWrite(CHARGING_PROFILES, profile_key(profile_id), doc)]
        )
        return doc

    async def get(self, profile_id: int) -> StoredProfileDoc | None:
        doc = await self._documents.get(CHARGING_PROFILES, profile_key(profile_id))
        return cast("StoredProfileDoc | None", doc)

    async def profile(self, profile_id: int) -> JsonObject:
        """The stored profile, or ``ChargingProfileNotFoundError``."""
        doc = await self.get(profile_id)
        if doc is None:
            raise ChargingProfileNotFoundError(profile_id)
        return dict(doc["profile"])

    async def list(self) -> list[StoredProfileDoc]:
        return cast("list[StoredProfileDoc]", await self._documents.list(CHARGING_PROFILES))

    async def remove(self, profile_id: int) -> bool:
        """Whether it was there."""
        if await self.get(profile_id) is None:
            return False
        await self._documents.write(
            [DocumentWrite(CHARGING_PROFILES, profile_key(profile_id), None)]
        )
        return True
