"""What a node does as one of several on one PostgreSQL database.

Background work, and where it runs:

- once per cluster, on the node holding the leadership lock: the projections
  (one writer of the read models: no document written twice with different
  content, no projection racing another; a batch is written only under the
  cluster's current leadership term, so a deposed leader that has not noticed yet
  writes nothing), the reservation expiry sweep (its outcomes have command ids of
  their own, so a repeat during a handover is a duplicate), and the sweep of
  lapsed nodes' stations (each row is deleted once);
- on every node, safe by construction: the dispatcher (it sends only to the
  stations connected to its own node, and a dispatch with a stale epoch is
  refused by the database), the command expiry sweep (an outcome's command id
  is ``{command}/expired``, so a second node's repeat is a duplicate and the
  decider keeps one terminal event; a dispatch in doubt is left to the node
  holding its station), the twin writer (each node writes the twins of its own
  connections, and a twin of a lower epoch never overwrites one of a higher;
  meter readings are merged into their stored document under a row lock, so the
  nodes a station moved between each add theirs, in either order),
  following the leader's projection checkpoint, and taking other nodes' twins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from chargeledger.application.twin_service import TwinService
from chargeledger.errors import ChargeledgerError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """One readiness check's verdict: its name, whether it passes, and why not."""

    name: str
    ok: bool
    detail: str = ""


class LeadershipLostError(ChargeledgerError):
    """A job of the cluster's leader wrote under a term that is no longer the current
    one: another node leads now, and this node's leader jobs must stop."""


class Membership(Protocol):
    node_id: str

    @property
    def last_error(self) -> str:
        """Why the lease is not renewed now ("" when it is)."""
        ...

    def lease_held(self) -> bool:
        """This node renewed its lease within the lease time."""
        ...

    def listening(self) -> bool:
        """This node hears takeovers from the others."""
        ...


async def cluster_ready(membership: Membership) -> Readiness:
    """Ready while the node's lease is fresh (PostgreSQL answers it) and it hears the
    cluster's takeovers; otherwise it must not take stations (a front stops sending
    them), and it sends no CALL anyway, since it cannot record a dispatch."""
    if not membership.lease_held():
        detail = membership.last_error or "the node's lease is not renewed"
        return Readiness("cluster", False, f"{detail}; check PostgreSQL")
    if not membership.listening():
        return Readiness("cluster", False, "not listening for takeovers (PostgreSQL?)")
    return Readiness("cluster", True)


async def follow_twins(
    twin: TwinService, held_here: Callable[[], Collection[str]], every_s: float = 1.0
) -> None:
    """Take the twins that other nodes write for their stations, so every node's API
    and decisions see every station (a supervised worker)."""
    while True:
        await twin.refresh(held_here())
        await asyncio.sleep(every_s)
