"""The station registry: which station ids may connect, and with which password.

Explicit semantics: ``add`` refuses an id already registered (its password stays as
it is), ``set_password`` changes only the password (``None`` removes it), ``remove``
takes the station out; each refuses an id that is not there. Ids are checked as the
OCPP gateway checks them, so no registered id is one a station could never use.

A BootNotification's registration is decided from the registry's answer and the
node's unknown-station policy (``RegistrationPolicy``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import cast

from chargeledger.application.document_shapes import RegistryDoc, RegistryView
from chargeledger.application.ports import DocumentStore, DocumentWrite
from chargeledger.domain.enums import UnknownStations
from chargeledger.domain.json_object import JsonObject
from chargeledger.errors import ChargeledgerError

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
        """Register a new station (``StationAlreadyRegisteredError`` when it is there)."""
        check_station_id(station_id)
        if await self._documents.get(REGISTRY, station_id) is not None:
            raise StationAlreadyRegisteredError(
                f"station {station_id!r} is already registered; change its password with "
                "set-password, or remove it first"
            )
        doc: RegistryDoc = {
            "station_id": station_id,
            "password_hash": hash_password(password) if password else None,
            "added_at": added_at,
        }
        await self._documents.write([DocumentWrite(REGISTRY, station_id, doc)])

    async def set_password(self, station_id: str, password: str | None) -> RegisteredStation:
        """Change (``None``: remove) a registered station's password."""
        doc = await self._documents.get(REGISTRY, station_id)
        if doc is None:
            raise StationNotInRegistryError(f"station {station_id!r} is not registered")
        changed: RegistryDoc = {
            **_read(doc),
            "password_hash": hash_password(password) if password else None,
        }
        await self._documents.write([DocumentWrite(REGISTRY, station_id, changed)])
        return _registered(changed)

    async def remove(self, station_id: str) -> None:
        if await self._documents.get(REGISTRY, station_id) is None:
            raise StationNotInRegistryError(f"station {station_id!r} is not registered")
        await self._documents.write([DocumentWrite(REGISTRY, station_id, None)])

    async def get(self, station_id: str) -> RegisteredStation | None:
        doc = await self._documents.get(REGISTRY, station_id)
        return None if doc is None else _registered(_read(doc))

    async def list(self) -> list[RegisteredStation]:
        return [_registered(_read(doc)) for doc in await self._documents.list(REGISTRY)]


def _read(doc: JsonObject) -> RegistryDoc:
    """A registry document as loaded (its shape checked on read: ``quarantine.SHAPES``)."""
    return cast(RegistryDoc, doc)


def _registered(doc: RegistryDoc) -> RegisteredStation:
    # Named fields, not **doc: a field the record does not have must not fail a handshake.
    return RegisteredStation(doc["station_id"], doc["password_hash"], doc["added_at"])


STATION_ID = re.compile(r"^[A-Za-z0-9*\-_=:+|@.]{1,48}$")
"""The ids the OCPP gateway accepts in its path (OCPP-J: a CiString48 of URL-safe
characters); the registry accepts no other."""


class RegistryError(ChargeledgerError):
    """A registry change refused; ``code`` is the API's ``error``."""

    code = "RegistryError"


class InvalidStationIdError(RegistryError):
    code = "ValidationError"


class StationAlreadyRegisteredError(RegistryError):
    code = "StationAlreadyRegistered"


class StationNotInRegistryError(RegistryError):
    code = "StationNotFound"


def check_station_id(station_id: str) -> None:
    # "." and ".." are path segments, not names: every URL naming them means another.
    if not STATION_ID.match(station_id) or station_id in (".", ".."):
        raise InvalidStationIdError(
            f"station id {station_id!r}: 1-48 characters of A-Z a-z 0-9 * - _ = : + | @ . "
            "other than . and .. (what the OCPP gateway accepts)"
        )


def registry_view(station: RegisteredStation) -> RegistryView:
    return {"id": station.station_id, "has_password": station.password_hash is not None}


@dataclass(frozen=True)
class RegistrationPolicy:
    """What a BootNotification's registration is decided from, looked up before deciding."""

    registry: StationRegistry | None
    """``None``: every id is known (a node without a registry)."""
    unknown_stations: UnknownStations

    async def known(self, station_id: str) -> bool:
        """Whether the registry holds the station (every id, when there is no registry)."""
        return self.registry is None or await self.registry.get(station_id) is not None
