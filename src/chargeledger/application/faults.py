"""Fail points for fault-injection tests: kill this process at a named point of the
command path, the Nth time it is reached.

Armed only by ``CHARGELEDGER_CRASH_AT=POINT:N`` (read once by ``bootstrap``); when
unarmed, ``crash_point`` is one dictionary lookup. The points are the places where
a crash can leave a station command in doubt (ARCHITECTURE.md flow 4):

- ``before-append:<CommandType>``: decided, not yet recorded
- ``after-append:<CommandType>``: recorded, the caller not yet answered
- ``after-dispatched``: ``CommandDispatched`` recorded, the CALL not yet sent
- ``after-answer``: the station answered, its answer not yet recorded
"""

from __future__ import annotations

import os
import signal

_armed: dict[str, int] = {}


def arm(spec: str | None) -> None:
    """``POINT:N`` kills at the Nth time POINT is reached; ``None`` or "" disarms."""
    _armed.clear()
    if not spec:
        return
    point, _, nth = spec.rpartition(":")
    if not point or not nth.isdigit() or int(nth) < 1:
        raise ValueError(f"CHARGELEDGER_CRASH_AT must be POINT:N with N >= 1, not {spec!r}")
    _armed[point] = int(nth)


def crash_point(point: str) -> None:
    remaining = _armed.get(point)
    if remaining is None:
        return
    if remaining <= 1:
        os.kill(os.getpid(), signal.SIGKILL)
    _armed[point] = remaining - 1
