"""Id tags: who may charge. The registry holds a status and an optional expiry per tag;
``authorize`` turns that record into the ``idTagInfo`` a station is answered with.

Like SteVe, a tag whose expiry has passed answers ``Expired`` whatever its stored
status, and an unknown tag answers ``Invalid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chargeledger.domain.enums import AuthorizationStatus
from chargeledger.domain.timestamps import instant

ACCEPTED = AuthorizationStatus.ACCEPTED
EXPIRED = AuthorizationStatus.EXPIRED
INVALID = AuthorizationStatus.INVALID

STORED_STATUSES = tuple(AuthorizationStatus)
"""What an operator may store: any OCPP 1.6 ``AuthorizationStatus``. An unknown tag
answers ``Invalid``."""


@dataclass(frozen=True)
class IdTagRecord:
    id_tag: str
    status: AuthorizationStatus
    expiry: str | None = None


@dataclass(frozen=True)
class IdTagInfo:
    """The verdict on one tag, as OCPP's ``idTagInfo`` carries it."""

    status: AuthorizationStatus
    expiry: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


def authorize(record: IdTagRecord | None, now: datetime) -> IdTagInfo:
    """The verdict on a tag at ``now``."""
    if record is None:
        return IdTagInfo(INVALID)
    if record.expiry is not None and instant(record.expiry) <= now:
        return IdTagInfo(EXPIRED, record.expiry)
    return IdTagInfo(record.status, record.expiry)
