"""The operator commands a station can be sent, and how each maps onto OCPP 1.6.

``REPEAT_IS_HARMLESS`` names the commands that may be sent again when their fate
is in doubt after a crash; every other command is reconciled, never re-sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StationCommandSpec:
    name: str
    action: str
    to_ocpp: Callable[[Mapping[str, Any]], dict[str, Any]]
    accepted_statuses: frozenset[str] = frozenset({"Accepted"})


def _remote_start(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"connectorId": payload["connector_id"], "idTag": payload["id_tag"]}


SPECS: dict[str, StationCommandSpec] = {
    "remote-start": StationCommandSpec("remote-start", "RemoteStartTransaction", _remote_start),
}

REPEAT_IS_HARMLESS: frozenset[str] = frozenset()


def outcome_of(spec: StationCommandSpec, result: Mapping[str, Any]) -> str:
    """``accepted`` or ``rejected``, by the answer's own status enum."""
    status = result.get("status")
    return "accepted" if status in spec.accepted_statuses else "rejected"
