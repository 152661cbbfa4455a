"""Reconciling a command whose fate is in doubt: what the station did since the dispatch.

Each operation says how (``Operation.observe``, in ``domain/operations/in_doubt.py``);
one without an observer (a Reset: a BootNotification after it could be the reboot it
asked for or a reconnect for another reason) ends failed, not guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chargeledger.application.ports import RecordedEvent
from chargeledger.domain.operations import OPERATIONS
from chargeledger.domain.twin import StationTwin


def observed_effect(
    name: str,
    payload: Mapping[str, Any],
    since: Sequence[RecordedEvent],
    twin: StationTwin | None,
) -> str | None:
    """The evidence that command ``name`` with ``payload`` took effect, or ``None``."""
    observe = OPERATIONS[name].observe
    if observe is None:
        return None
    return observe(payload, [recorded.event for recorded in since], twin)


NOT_OBSERVED = (
    "in doubt: the station may or may not have acted (the connection or the node was lost "
    "before its answer was recorded) and no effect was observed; check the station before "
    "sending it again"
)
