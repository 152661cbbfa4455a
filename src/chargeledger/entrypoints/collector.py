"""The garbage collector's settings for a node that holds thousands of connections.

With CPython's defaults (a collection of the youngest objects every 700 allocations),
nearly every object of a station's BootNotification outlives a young collection and
is promoted, though it dies moments later; the promotions trigger a full collection,
which walks every object of the process (about 80 per connected station), every 10
to 20 s while stations connect. Measured (issue 13; two nodes of 12,500 stations on
the shared 2-core machine): each full collection held the event loop 1 to 2.9 s,
and on the busier machine of the 50,000-station run the turns grew to 6 to 13 s,
past the lease's bound, so nodes dropped their stations. A young generation of
50,000 lets those objects die before they are looked at: the same run made no full
collection while connecting.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Allocations (less deallocations) between two collections of the youngest objects."""


def tune_collector() -> None:
    """Collect rarely, and never look again at what the start-up created (modules,
    schemas, settings: they live as long as the process)."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
