"""The dispatcher: the only part that talks to stations, and only about committed events.

For each open command it records ``CommandDispatched`` first, then sends the CALL,
then records the station's answer: decide, then record, then act (ARCHITECTURE.md
flow 2). A command whose dispatch is already recorded is never sent again by a
repeat, so a crash can leave a command in doubt but never doubled (I3, I4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from datetime import datetime
from typing import Any

from chargeledger.application.command_bus import CommandBus
from chargeledger.application.ports import (
    CallTimeoutError,
    Clock,
    DocumentStore,
    StationCallError,
    StationDisconnectedError,
    StationLink,
)
from chargeledger.application.projections import COMMANDS, OPEN
from chargeledger.application.station_commands import SPECS, outcome_of
from chargeledger.domain.commands import MarkDispatched, RecordOutcome
from chargeledger.domain.errors import DomainError

log = logging.getLogger(__name__)


class _StationQueue:
    def __init__(self) -> None:
        self.pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class Dispatcher:
    def __init__(
        self,
        bus: CommandBus,
        documents: DocumentStore,
        clock: Clock,
        expiry_check_s: float = 1.0,
    ) -> None:
        self._bus = bus
        self._documents = documents
        self._clock = clock
        self._links: dict[str, StationLink] = {}
        self._queues: dict[str, _StationQueue] = {}
        self._expiry_check_s = expiry_check_s

    async def on_commands_changed(self, docs: list[dict[str, Any]]) -> None:
        """Projection listener: queue newly requested commands of stations linked here."""
        for doc in docs:
            if doc["status"] == "requested" and doc["station_id"] in self._links:
                self._enqueue(doc)

    async def station_ready(self, link: StationLink) -> None:
        """The station's BootNotification was accepted on this node: send what waits."""
        self._links[link.station_id] = link
        waiting = [
            doc
            for doc in await self._documents.list(COMMANDS, tag=OPEN)
            if doc["station_id"] == link.station_id and doc["status"] == "requested"
        ]
        for doc in sorted(waiting, key=lambda d: int(d["position"])):
            self._enqueue(doc)

    def station_gone(self, link: StationLink) -> None:
        """The connection closed; a newer link of the same station stays."""
        if self._links.get(link.station_id) is link:
            del self._links[link.station_id]

    def _enqueue(self, doc: dict[str, Any]) -> None:
        queue = self._queues.setdefault(doc["station_id"], _StationQueue())
        queue.pending.setdefault(doc["command_id"], doc)
        queue.wake.set()
        if queue.task is None or queue.task.done():
            queue.task = asyncio.create_task(
                self._drain(doc["station_id"], queue), name=f"dispatch-{doc['station_id']}"
            )

    async def _drain(self, station_id: str, queue: _StationQueue) -> None:
        while queue.pending:
            link = self._links.get(station_id)
            if link is None:
                queue.pending.clear()  # sent when the station is ready again
                return
            _, doc = queue.pending.popitem(last=False)
            try:
                await self._dispatch(link, doc)
            except Exception:
                log.exception("dispatch of %s to %s failed", doc["command_id"], station_id)

    async def _dispatch(self, link: StationLink, doc: dict[str, Any]) -> None:
        command_id = doc["command_id"]
        spec = SPECS[doc["name"]]
        attempt = int(doc.get("attempt", 0)) + 1
        now = self._clock.now()
        if _expired(doc, now):
            await self._record(
                link.station_id, command_id, "expired", detail="time to live ran out"
            )
            return
        dispatched = await self._bus.execute(
            link.station_id,
            MarkDispatched(
                command_id=f"{command_id}:dispatch:{attempt}",
                target_command_id=command_id,
                attempt=attempt,
                connection_epoch=link.epoch,
                dispatched_at=now.isoformat(),
            ),
            correlation_id=command_id,
            causation_id=command_id,
        )
        if dispatched.duplicate or not dispatched.events:
            return  # already dispatched once, or ended: never send twice
        try:
            answer = await link.call(spec.action, spec.to_ocpp(doc["payload"]))
        except CallTimeoutError:
            await self._record(link.station_id, command_id, "timed_out", "no answer in time")
        except StationCallError as error:
            await self._record(
                link.station_id, command_id, "failed", error.description, error_code=error.code
            )
        except StationDisconnectedError:
            # In doubt: the station may have acted. Reconciliation decides, not a re-send.
            log.warning("station %s left before answering %s", link.station_id, command_id)
        else:
            await self._record(link.station_id, command_id, outcome_of(spec, answer), result=answer)

    async def _record(
        self,
        station_id: str,
        command_id: str,
        outcome: str,
        detail: str = "",
        result: dict[str, Any] | None = None,
        error_code: str = "",
    ) -> None:
        with contextlib.suppress(DomainError):
            await self._bus.execute(
                station_id,
                RecordOutcome(
                    command_id=f"{command_id}:{outcome}",
                    target_command_id=command_id,
                    outcome=outcome,
                    result=result or {},
                    detail=detail,
                    error_code=error_code,
                ),
                correlation_id=command_id,
                causation_id=command_id,
            )

    async def expire_overdue(self) -> None:
        """End every requested command whose time to live has passed."""
        now = self._clock.now()
        for doc in await self._documents.list(COMMANDS, tag=OPEN):
            if doc["status"] == "requested" and _expired(doc, now):
                await self._record(
                    doc["station_id"], doc["command_id"], "expired", "time to live ran out"
                )

    async def run_expiry(self) -> None:
        while True:
            await asyncio.sleep(self._expiry_check_s)
            await self.expire_overdue()


def _expired(doc: dict[str, Any], now: datetime) -> bool:
    return datetime.fromisoformat(doc["expires_at"]) <= now
