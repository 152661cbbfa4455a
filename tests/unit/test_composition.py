"""The clock is the one place that reads the time: every other module gets it injected
(the simulator is a station and keeps its own)."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "chargeledger"


def test_only_the_clock_reads_the_time() -> None:
    readers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "datetime.now(" in path.read_text() or "datetime.utcnow(" in path.read_text()
    )
    allowed = {"adapters/clock.py"}
    assert [r for r in readers if r not in allowed and not r.startswith("simulator/")] == []
