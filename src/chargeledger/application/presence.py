"""Presence: which node holds each station's connection, under which epoch (I8).

A connection takes an epoch when its handshake is admitted; a higher epoch
supersedes every lower one of the same station, on whichever node it lives.
On one node (SQLite) that is a counter in memory; on PostgreSQL it is the
connection registry of ``adapters/postgres_presence.py``, with epochs from one
sequence, so that a station connecting to another node takes over there too.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chargeledger.errors import StationLinkError


@dataclass(frozen=True)
class Claim:
    """A connection's hold on its station: its epoch, and the node that held the station
    until now when that is another live node (``None`` otherwise)."""

    station_id: str
    epoch: int
    previous_node: str | None = None
    previous_epoch: int | None = None


Fence = Callable[[str, int], None]
"""Called with (station id, epoch) when another node took the station at that epoch:
every connection of it here with a lower epoch must stop acting and close."""


class Presence(Protocol):
    node_id: str

    async def claim(self, station_id: str) -> Claim:
        """Take the station for a new connection on this node, with a new, higher epoch;
        the node that held it is told to fence and close its connection."""
        ...

    async def handed_over(self, claim: Claim, timeout: float) -> bool:
        """Wait until the previous holder released the station (closed its connection),
        or ``timeout`` seconds; whether it did. Immediate when there was none."""
        ...

    def released(self, station_id: str, epoch: int) -> None:
        """The connection of ``epoch`` closed: drop its hold (if still its own) and tell
        a node waiting in ``handed_over``. Does not block."""
        ...

    def on_fence(self, fence: Fence) -> None:
        """Register what to call when another node takes a station held here."""
        ...


class LocalPresence:
    """One node alone: epochs from a counter seeded from the clock in microseconds, so
    they stay above those a previous run of the node left in the twin."""

    def __init__(self, node_id: str = "node-1") -> None:
        self.node_id = node_id
        self._epochs = itertools.count(time.time_ns() // 1000)

    async def claim(self, station_id: str) -> Claim:
        return Claim(station_id, next(self._epochs))

    async def handed_over(self, claim: Claim, timeout: float) -> bool:
        return True

    def released(self, station_id: str, epoch: int) -> None:
        return None

    def on_fence(self, fence: Fence) -> None:
        return None


class StaleEpochError(StationLinkError):
    """A dispatch carried a connection epoch that is no longer the station's: another
    connection (perhaps on another node) took the station over, so this one may not act."""
