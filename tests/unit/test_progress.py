"""Progress: a bar redrawn in place on a terminal, plain lines in a file or a pipe."""

from __future__ import annotations

import io

from chargeledger.entrypoints.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    screen = Terminal()
    progress = Progress("rebuilding", 200, screen, every_s=0.0, quiet_for_s=0.0)
    progress.at(50)
    progress.at(200)
    progress.done()
    text = screen.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert "[#######.......................]  25% 50/200" in text
    assert "100% 200/200" in text


def test_a_pipe_gets_plain_lines() -> None:
    pipe = io.StringIO()
    progress = Progress("events", 1000, pipe, every_s=0.0, quiet_for_s=0.0)
    progress.at(500)
    progress.done()
    assert pipe.getvalue() == "events: at position 500 of 1000 (50%, 0 s)\n"


def test_a_short_operation_shows_nothing() -> None:
    pipe = io.StringIO()
    progress = Progress("events", 1000, pipe)
    progress.at(1000)
    progress.done()
    assert pipe.getvalue() == ""
