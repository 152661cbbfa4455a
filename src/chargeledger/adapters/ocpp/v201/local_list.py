"""The local authorization list as OCPP 2.0.1 speaks it: send-local-list and
get-local-list-version on 1.6's bodies. The list is built as for 1.6 (the registry's
tags, a named list, or the entries given: ``domain/local_list.py``) and said the 2.0.1
way: ``versionNumber``, each entry an ``idToken`` object with its ``idTokenInfo``.

Our id tags carry no token type; a list entry goes out as an ``ISO14443`` token (an
RFID card, what a local list is for), its group as a ``Central`` one (an id the CSMS
made up). A station that matches tokens by type as well as value matches only
ISO14443 cards against the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeledger.adapters.ocpp.spec import OperationSpec
from chargeledger.adapters.ocpp.v16 import bodies as b
from chargeledger.domain import operations as o

CARD = "ISO14443"
GROUP = "Central"


def _entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    said: dict[str, Any] = {"idToken": {"idToken": entry["id_tag"], "type": CARD}}
    info = entry.get("id_tag_info")
    if info is None:  # a Differential update removes the tag
        return said
    token_info: dict[str, Any] = {"status": info["status"]}
    if info.get("expiry_date") is not None:
        token_info["cacheExpiryDateTime"] = info["expiry_date"]
    if info.get("parent_id_tag") is not None:
        token_info["groupIdToken"] = {"idToken": info["parent_id_tag"], "type": GROUP}
    said["idTokenInfo"] = token_info
    return said


def _send_local_list(payload: Mapping[str, Any]) -> dict[str, Any]:
    entries = [_entry(entry) for entry in payload["local_authorization_list"]]
    call: dict[str, Any] = {
        "versionNumber": payload["list_version"],
        "updateType": payload["update_type"],
    }
    if entries:  # an empty Full list clears the station's; 2.0.1 then sends none
        call["localAuthorizationList"] = entries
    return call


def _answered(result: Mapping[str, Any]) -> str:
    return "Accepted"


SPECS: tuple[OperationSpec, ...] = (
    OperationSpec(
        o.GET_LOCAL_LIST_VERSION,
        b.GetLocalListVersionBody,
        "GetLocalListVersion",
        status_of=_answered,  # versionNumber 0: the station holds no list
    ),
    OperationSpec(
        o.SEND_LOCAL_LIST,
        b.SendLocalListBody,
        "SendLocalList",
        _send_local_list,
        details={
            "VersionMismatch": "the station's list version does not fit {list_version}; "
            "send a Full list",
            "Failed": "the station could not apply the list; send a Full list",
        },
    ),
)
