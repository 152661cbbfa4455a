"""The local authorization list as the station aggregate knows it, and how an
installation changes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from chargeledger.domain import events as e
from chargeledger.domain.enums import UpdateType


@dataclass(frozen=True)
class LocalList:
    """The local authorization list we last saw the station install: its version and
    entries (id tag to id tag info). ``entries`` ``None``: we do not know what the
    station holds (nothing installed by us yet, or it said otherwise since)."""

    version: int = 0
    entries: Mapping[str, e.IdTagInfoEntry] | None = None


def installed(local_list: LocalList, event: e.LocalListInstalled) -> LocalList:
    sent = {entry["id_tag"]: entry.get("id_tag_info") for entry in event.local_authorization_list}
    if event.update_type == UpdateType.FULL:
        entries = {tag: info for tag, info in sent.items() if info is not None}
        return LocalList(event.list_version, MappingProxyType(entries))
    if local_list.entries is None:
        return LocalList(event.list_version, None)
    updated = dict(local_list.entries)
    for tag, info in sent.items():
        if info is None:
            updated.pop(tag, None)
        else:
            updated[tag] = info
    return LocalList(event.list_version, MappingProxyType(updated))
