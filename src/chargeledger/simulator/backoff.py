"""Reconnect delays with full jitter, so that a fleet cut off at once does not come back
at once: the n-th delay is drawn uniformly from [0, min(cap, base * 2**n)]."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base_s: float = 1.0
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each one widens the window, up to the cap."""
        window = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return self.rng.uniform(0.0, window)

    def reset(self) -> None:
        """After a connection that booted: the next loss starts from the smallest window."""
        self.attempt = 0
