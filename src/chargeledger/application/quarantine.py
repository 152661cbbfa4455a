"""Documents a node could not load: set aside, logged once, shown on ``/healthz``.

A node never refuses to start because of one bad document (issue 10): what can be
loaded is loaded, the rest is recorded here (and copied to the ``quarantine``
documents by whoever found it, when it can be written), so an operator can see it
and fix or delete it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

log = logging.getLogger(__name__)

QUARANTINE: Final = "quarantine"
"""The documents model holding a copy of each quarantined document."""

MAX_KEPT: Final = 1000


@dataclass(frozen=True, slots=True)
class QuarantinedDocument:
    model: str
    key: str
    reason: str

    def view(self) -> dict[str, Any]:
        return {"model": self.model, "key": self.key, "reason": self.reason}


class Quarantine:
    """What this node set aside since it started (the first ``MAX_KEPT``; the count is
    exact)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], QuarantinedDocument] = {}
        self.count = 0

    def add(self, model: str, key: str, error: BaseException | str) -> QuarantinedDocument:
        reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        found = QuarantinedDocument(model, key, reason[:300])
        if (model, key) not in self._kept:
            self.count += 1
            log.error("quarantined %s document %r (not loaded): %s", model, key, found.reason)
            if len(self._kept) < MAX_KEPT:
                self._kept[(model, key)] = found
        return found

    def items(self) -> list[QuarantinedDocument]:
        return list(self._kept.values())

    def __len__(self) -> int:
        return self.count
