"""The simulator's progress: a bar of the stations connected on a terminal, plain lines
in a log or a pipe, and always what is true now."""

from __future__ import annotations

import asyncio
import io

import pytest

from chargeledger.simulator.fleet import StationRun, show_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def _shown(out: io.StringIO, runs: list[StationRun]) -> str:
    stop = asyncio.Event()
    task = asyncio.create_task(show_progress(runs, stop, out, every_s=0.01))
    await asyncio.sleep(0.05)
    runs[1].connected = True  # a station connects while the start-up is shown
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    return out.getvalue()


async def test_a_terminal_gets_a_bar_of_the_stations_connected_redrawn_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    runs = [StationRun(f"SIM-{n}") for n in range(4)]
    runs[0].connected = True
    shown = await _shown(Terminal(), runs)
    assert "\r[#####...............] 1/4 connected" in shown
    assert "\r[##########..........] 2/4 connected" in shown
    assert shown.count("\n") == 1  # only after the last redraw
    # A line wider than the terminal wraps, and \r would redraw only its last part.
    drawn = [part.removesuffix("\x1b[K\n").removesuffix("\x1b[K") for part in shown.split("\r")]
    assert max(len(part) for part in drawn) <= 59


async def test_a_pipe_gets_a_plain_line_when_something_changed() -> None:
    runs = [StationRun(f"SIM-{n}") for n in range(4)]
    shown = await _shown(io.StringIO(), runs)
    lines = shown.splitlines()
    assert "\r" not in shown and "[" not in shown
    assert lines[0].startswith("0/4 connected")
    assert any(line.startswith("1/4 connected") for line in lines)
    assert len(lines) <= 4  # not one per tick
