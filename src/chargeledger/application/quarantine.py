"""Documents a node could not load: set aside, logged once, shown on ``/healthz``.

A node never refuses to start because of one bad document (issue 10): what can be
loaded is loaded, the rest is recorded here (and copied to the ``quarantine``
documents by whoever found it, when it can be written), so an operator can see it
and fix or delete it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from chargeledger.application.document_shapes import QuarantineView
from chargeledger.domain.json_object import JsonObject
from chargeledger.errors import StoreError

log = logging.getLogger(__name__)

_TEXT: Final = (str,)
_MAYBE_TEXT: Final = (str, type(None))

SHAPES: Final[dict[str, dict[str, tuple[type, ...]]]] = {
    "station": {"id": _TEXT},
    "station_registry": {"station_id": _TEXT, "password_hash": _MAYBE_TEXT, "added_at": _TEXT},
    "transaction": {"station_id": _TEXT, "transaction_id": (int,)},
    "id_tag": {"id_tag": _TEXT, "status": _TEXT, "expiry": _MAYBE_TEXT},
    "charging_profile": {"profile": (dict,), "updated_at": _TEXT},
    "configuration": {"keys": (dict,), "unknown_keys": (list,), "reported_at": _MAYBE_TEXT},
    "station_profiles": {"profiles": (list,)},
    "twin": {"station_id": _TEXT},
    "command_order": {"key": _TEXT, "name": _MAYBE_TEXT, "status": _MAYBE_TEXT},
    "named_local_list": {"name": _TEXT, "entries": (list,), "updated_at": _TEXT},
}
"""What the readers of each read model take for granted of a document: these fields,
of these types. Models not named here are read defensively where they are used."""


class MisshapenDocumentError(StoreError, ValueError):
    """A document without a field its readers need, or with a field of another type."""


def check_shape(model: str, doc: JsonObject) -> None:
    """Raise ``MisshapenDocumentError`` when ``doc`` lacks what the readers of ``model``
    need. Run by the document stores on every read, so that one bad document is
    quarantined instead of failing every list and handshake that reads it."""
    shape = SHAPES.get(model)
    if shape is None:
        return
    for name, types in shape.items():
        if name not in doc:
            raise MisshapenDocumentError(f"no {name!r} field")
        value = doc[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise MisshapenDocumentError(f"{name!r} is {type(value).__name__}")
    if model == "configuration" and not all(isinstance(v, dict) for v in doc["keys"].values()):
        raise MisshapenDocumentError("a configuration key is not an object")
    if model == "named_local_list" and not all(
        isinstance(entry, dict)
        and isinstance(entry.get("id_tag"), str)
        and isinstance(entry.get("status"), _MAYBE_TEXT)
        for entry in doc["entries"]
    ):
        raise MisshapenDocumentError("a local list entry is not an object with an id_tag")


QUARANTINE: Final = "quarantine"
"""The documents model holding a copy of each quarantined document."""

MAX_KEPT: Final = 1000


@dataclass(frozen=True, slots=True)
class QuarantinedDocument:
    model: str
    key: str
    reason: str

    def view(self) -> QuarantineView:
        return {"model": self.model, "key": self.key, "reason": self.reason}


class Quarantine:
    """What this node set aside since it started (the first ``MAX_KEPT``; the count is
    exact)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], QuarantinedDocument] = {}
        self.count = 0

    def add(self, model: str, key: str, error: BaseException | str) -> QuarantinedDocument:
        reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        found = QuarantinedDocument(_text(model), _text(key), _text(reason[:300]))
        model, key = found.model, found.key
        if (model, key) not in self._kept:
            self.count += 1
            log.error(
                "quarantined %s document %r (not loaded): %s",
                model,
                key,
                found.reason,
                extra={"limit_key": f"{model}/{key}"},  # one line per document, never merged
            )
            if len(self._kept) < MAX_KEPT:
                self._kept[(model, key)] = found
        return found

    def items(self) -> list[QuarantinedDocument]:
        return list(self._kept.values())

    def __len__(self) -> int:
        return self.count


def _text(value: str) -> str:
    """``value`` with any lone surrogate spelled ``\\udXXX``: a key or reason taken
    from a hostile document must never make the report that names it unreadable."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
