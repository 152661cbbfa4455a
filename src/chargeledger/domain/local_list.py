"""The local authorization list (OCPP 1.6 Local Auth List Management), per station.

The station aggregate remembers the list version and entries the station last
installed from us (``LocalList``). An update is built from the id-tag registry as
the station should know it, which arrives on the command:

- Full: every registry entry; ``list_version`` by default ours + 1.
- Differential: only what differs from the list the station installed (changed or
  new tags with their info, removed tags without), which needs that list known:
  before the first Full one, or after the station said otherwise, it is refused
  (``LocalListOutOfSync``: send a Full list).
- The station's Accepted installs it (``LocalListInstalled``). VersionMismatch or
  Failed, or no answer (timed out, failed), leave its list unknown to us
  (``LocalListOutOfSync``); so does a GetLocalListVersion answer other than the
  version we last installed. NotSupported changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain import operations
from chargeledger.domain.enums import Outcome, UpdateType, one_of
from chargeledger.domain.errors import (
    InvalidCommandError,
    LocalListOutOfSyncError,
    LocalListVersionError,
)
from chargeledger.domain.station_state import OpenCommand, StationState

FULL = UpdateType.FULL
DIFFERENTIAL = UpdateType.DIFFERENTIAL
SEND_LOCAL_LIST = operations.SEND_LOCAL_LIST.name
GET_LOCAL_LIST_VERSION = operations.GET_LOCAL_LIST_VERSION.name


def _entry(id_tag: str, info: e.IdTagInfoEntry | None) -> e.LocalListEntry:
    return {"id_tag": id_tag, "id_tag_info": None if info is None else info.copy()}


def update_request(
    command: c.RequestSendLocalList, state: StationState, common: e.RequestBasics
) -> e.SendLocalListRequested:
    update_type = one_of("update type", UpdateType, command.update_type)
    installed = state.local_list
    version = installed.version + 1 if command.list_version is None else command.list_version
    if version < 1:
        raise InvalidCommandError(f"list_version must be 1 or more, got {version}")
    if version <= installed.version:
        raise LocalListVersionError(
            f"list_version {version} is not above {installed.version}, the version the "
            f"station holds; send {installed.version + 1} or more, or leave it out"
        )
    wanted = command.registry
    if command.entries is not None:
        entries = _explicit(update_type, command.entries)
    elif update_type == FULL:
        entries = [_entry(tag, wanted[tag]) for tag in sorted(wanted)]
    elif installed.entries is None:
        raise LocalListOutOfSyncError(
            "we do not know the list the station holds (none installed by us yet, or it "
            "reported another since); send a Full update first"
        )
    else:
        held = installed.entries
        changed = [tag for tag in wanted if held.get(tag) != wanted[tag]]
        removed = [tag for tag in held if tag not in wanted]
        entries = [_entry(tag, wanted.get(tag)) for tag in sorted(changed + removed)]
    return e.SendLocalListRequested(
        **common,
        list_version=version,
        update_type=update_type,
        local_authorization_list=entries,
    )


def _explicit(
    update_type: UpdateType, given: Mapping[str, e.IdTagInfoEntry | None]
) -> list[e.LocalListEntry]:
    """Entries sent exactly as given: a Full list installs each, so each needs its
    info; a Differential one may remove a tag (no info)."""
    removed = sorted(tag for tag, info in given.items() if info is None)
    if update_type == FULL and removed:
        raise InvalidCommandError(
            f"a Full list installs every entry: give {', '.join(removed)} a status "
            "(removing a tag takes a Differential update)"
        )
    return [_entry(tag, given[tag]) for tag in sorted(given)]


def after_outcome(
    target: OpenCommand, outcome: Outcome, result: Mapping[str, Any], state: StationState
) -> list[e.Event]:
    """What a send-local-list's or get-local-list-version's outcome says of the list."""
    ours = state.local_list.version
    if target.name == SEND_LOCAL_LIST:
        if outcome == Outcome.ACCEPTED:
            return [
                e.LocalListInstalled(
                    list_version=int(target.payload["list_version"]),
                    update_type=UpdateType(target.payload["update_type"]),
                    local_authorization_list=list(target.payload["local_authorization_list"]),
                    installed_by=target.command_id,
                )
            ]
        answer = result.get("status")
        if outcome == Outcome.EXPIRED or answer == "NotSupported":
            return []  # never sent, or the station keeps no list: nothing changed on it
        why = f"the station answered {answer}" if answer else f"send-local-list ended {outcome}"
        return [e.LocalListOutOfSync(our_version=ours, station_version=None, reason=why)]
    if target.name == GET_LOCAL_LIST_VERSION and outcome == Outcome.ACCEPTED:
        reported = result.get("listVersion", result.get("versionNumber"))  # 1.6, 2.0.1
        if isinstance(reported, int) and reported >= 0 and reported != ours:
            return [
                e.LocalListOutOfSync(
                    our_version=ours,
                    station_version=reported,
                    reason=f"the station reports list version {reported}, we installed {ours}",
                )
            ]
    return []
