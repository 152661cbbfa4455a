"""The checks behind ``/readyz``: can this node serve? Each returns a ``Readiness``
naming itself, and never raises: a check that fails says why in one line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from chargeledger.application.cluster import Readiness
from chargeledger.application.ports import Clock, DocumentStore, DocumentWrite, EventStore

PROBE_MODEL = "node_probe"
"""One document per node, rewritten by every store probe (a heartbeat row)."""

Check = Callable[[], Awaitable[Readiness]]


class StoreProbe:
    """Reads the log's head and writes this node's probe document: a store that answers
    reads but cannot write (a full disk, a read-only file, a lost primary) fails it.
    ``last`` is the latest verdict, for ``/healthz`` to report without writing."""

    def __init__(
        self,
        store: EventStore,
        documents: DocumentStore,
        clock: Clock,
        node_id: str,
        timeout_s: float = 3.0,
    ) -> None:
        self._store = store
        self._documents = documents
        self._clock = clock
        self._node_id = node_id
        self._timeout_s = timeout_s
        self.last = Readiness("store", True, "not probed yet")

    async def check(self, timeout_s: float | None = None) -> Readiness:
        """Probes the store, waiting at most ``timeout_s`` (default: the probe's own)."""
        timeout_s = self._timeout_s if timeout_s is None else timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                await self._store.head_position()
                probe = {"node_id": self._node_id, "at": self._clock.now().isoformat()}
                await self._documents.write([DocumentWrite(PROBE_MODEL, self._node_id, probe)])
        except TimeoutError:
            self.last = Readiness(
                "store", False, f"no answer within {timeout_s:g} s; check the store"
            )
        except Exception as failure:  # any failure of the store is the verdict, not a crash
            detail = f"cannot write: {type(failure).__name__}: {failure}; check the disk/database"
            self.last = Readiness("store", False, detail)
        else:
            self.last = Readiness("store", True, "reads and writes")
        return self.last


def gateway_listening(listening: Callable[[], bool]) -> Check:
    async def check() -> Readiness:
        if listening():
            return Readiness("gateway", True, "listening for stations")
        return Readiness("gateway", False, "the OCPP endpoint is not listening")

    return check


def read_models_within(
    store: EventStore, position: Callable[[], int], max_lag: int, timeout_s: float = 3.0
) -> Check:
    """Ready while the read models trail the log by at most ``max_lag`` events."""

    async def check() -> Readiness:
        try:
            async with asyncio.timeout(timeout_s):
                head = await store.head_position()
        except Exception as failure:  # the store check names the cause
            return Readiness("read_models", False, f"log head unknown: {failure}")
        lag = head - position()
        detail = f"{lag} events behind the log (bound {max_lag})"
        return Readiness("read_models", lag <= max_lag, detail)

    return check
