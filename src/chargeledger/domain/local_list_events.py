"""The local authorization list, business decided with a command's outcome:
``LocalListInstalled``, ``LocalListOutOfSync``, and the shape of a list's entries (which
``SendLocalListRequested`` sends too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict

from chargeledger.domain.enums import UpdateType
from chargeledger.domain.event import Event


class IdTagInfoEntry(TypedDict):
    """An id tag's ``idTagInfo`` on a local list, snake_case."""

    status: str
    expiry_date: NotRequired[str]
    parent_id_tag: NotRequired[str]


class LocalListEntry(TypedDict):
    """One entry of a local list as sent; no info removes the tag (Differential)."""

    id_tag: str
    id_tag_info: IdTagInfoEntry | None


@dataclass(frozen=True, kw_only=True)
class LocalListInstalled(Event):
    """The station accepted list ``list_version``; the entries are those it was sent."""

    list_version: int
    update_type: UpdateType
    local_authorization_list: list[LocalListEntry]
    installed_by: str


@dataclass(frozen=True, kw_only=True)
class LocalListOutOfSync(Event):
    """The station's list is not the one we last sent (``station_version``: what it
    reported, when it did): the next update must be Full."""

    our_version: int
    station_version: int | None
    reason: str


LOCAL_LIST_EVENTS: tuple[type[Event], ...] = (LocalListInstalled, LocalListOutOfSync)
