"""The station registry: which station ids may connect, and with which password."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from chargeledger.application.ports import DocumentStore, DocumentWrite

REGISTRY = "station_registry"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """A slow salted hash (scrypt), so a stolen registry does not reveal passwords."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


@dataclass(frozen=True)
class RegisteredStation:
    station_id: str
    password_hash: str | None
    added_at: str


class StationRegistry:
    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents

    async def add(self, station_id: str, password: str | None, added_at: str) -> None:
        doc: dict[str, Any] = {
            "station_id": station_id,
            "password_hash": hash_password(password) if password else None,
            "added_at": added_at,
        }
        await self._documents.write([DocumentWrite(REGISTRY, station_id, doc)])

    async def get(self, station_id: str) -> RegisteredStation | None:
        doc = await self._documents.get(REGISTRY, station_id)
        return None if doc is None else RegisteredStation(**doc)

    async def list(self) -> list[RegisteredStation]:
        return [RegisteredStation(**doc) for doc in await self._documents.list(REGISTRY)]
