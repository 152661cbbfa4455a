"""Progress of a long operation on stderr: a bar redrawn in place on a terminal, a plain
line every few seconds otherwise (a log file or a pipe gets no carriage returns)."""

from __future__ import annotations

import sys
import time
from typing import IO


class Progress:
    def __init__(
        self,
        what: str,
        total: int,
        stream: IO[str] | None = None,
        every_s: float | None = None,
        quiet_for_s: float = 1.0,
    ) -> None:
        self.what = what
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s if every_s is not None else (0.2 if self.tty else 5.0)
        self._started = time.monotonic()
        # Short operations show nothing: the first report waits ``quiet_for_s``.
        self._next = self._started + quiet_for_s
        self._shown = False

    def at(self, position: int) -> None:
        now = time.monotonic()
        if now < self._next or self.total <= 0:
            return
        self._next = now + self.every_s
        self._shown = True
        share = min(1.0, position / self.total)
        if self.tty:
            filled = int(share * 30)
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r{self.what}: [{bar}] {share:4.0%} {position}/{self.total}")
        else:
            self.stream.write(
                f"{self.what}: at position {position} of {self.total} ({share:.0%}, "
                f"{now - self._started:.0f} s)\n"
            )
        self.stream.flush()

    def done(self) -> None:
        if self._shown and self.tty:
            self.stream.write("\n")
            self.stream.flush()
        self._shown = False
