"""Fault injection with OCPP 2.0.1 stations: the node is killed with SIGKILL where a
command is in doubt, restarted on the same store, and every command still ends once,
sent at most once per recorded dispatch (I3, I4), as for 1.6 (test_crash_recovery)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_crash_recovery import sigkill_at


@pytest.mark.parametrize("point", ["after-dispatched", "after-answer"])
async def test_sigkill_with_2_0_1_stations_never_loses_or_doubles_a_command(
    tmp_path: Path, point: str
) -> None:
    """I3, I4 for 2.0.1: a dispatch recorded but unsent, or an answer unrecorded."""
    await sigkill_at(tmp_path, point, "ocpp2.0.1")
