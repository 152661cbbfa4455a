"""What the event log says, as log lines and metrics: each command's request, dispatch
and end with its latency, each charging session's start and stop, energy delivered.

It follows the log from where it was at start (a restart does not replay history
into the counters) and keeps no state but the open commands it has seen. On a
cluster each node follows the whole log, so each reports every command: sum them
per node only for what the node did itself (``chargeledger_ocpp_*``).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from datetime import datetime
from typing import Any

from chargeledger.adapters.metrics import NodeMetrics
from chargeledger.application.ports import Clock, DocumentStore, EventStore, RecordedEvent
from chargeledger.application.read_model_documents import (
    COMMANDS,
    OPEN,
    TERMINAL_STATUS,
    TRANSACTIONS,
    station_id_of,
)
from chargeledger.domain import events as e
from chargeledger.domain.enums import CommandStatus
from chargeledger.domain.operations import name_of

log = logging.getLogger("chargeledger.telemetry")

MAX_TRACKED = 100_000
"""Open commands remembered for their latency; past this the oldest are forgotten."""
MAX_PAYLOAD_CHARS = 2000


def _shown(payload: object) -> str:
    """A command's body as JSON (enumerations as their values), cut at
    ``MAX_PAYLOAD_CHARS``: a full local list can hold thousands of entries."""
    text = json.dumps(payload, default=str, ensure_ascii=False)
    if len(text) <= MAX_PAYLOAD_CHARS:
        return text
    return f"{text[:MAX_PAYLOAD_CHARS]}... [{len(text) - MAX_PAYLOAD_CHARS} more characters]"


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return max(
            0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        )
    except ValueError:
        return None


class LogTelemetry:
    def __init__(
        self,
        store: EventStore,
        documents: DocumentStore,
        metrics: NodeMetrics,
        response_timeout_s: float,
        clock: Clock,
    ) -> None:
        self._clock = clock
        self._store = store
        self._documents = documents
        self.metrics = metrics
        self._response_timeout_s = response_timeout_s
        self._open: OrderedDict[str, tuple[str, str]] = OrderedDict()
        """command id -> (name, requested_at)"""
        self._sessions_open = 0
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        """Labelled metrics by (metric, labels): ``labels()`` locks and checks each call."""

    async def run(self) -> None:
        position = await self._store.head_position()
        self._sessions_open = sum(
            1 for doc in await self._documents.list(TRANSACTIONS) if doc.get("status") == OPEN
        )
        self.metrics.sessions_open.set(self._sessions_open)
        while True:
            batch = await self._store.read_all(position, 500)
            if not batch:
                await self._store.wait_for_events(position, 1.0)
                continue
            for recorded in batch:
                self.seen(recorded)
            position = batch[-1].position

    def _labelled(self, metric: Any, *values: str) -> Any:
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def seen(self, recorded: RecordedEvent) -> None:
        event = recorded.event
        station = station_id_of(recorded.stream_id)
        metrics = self.metrics
        if isinstance(event, e.CommandRequested):
            name = name_of(event)
            self._open[event.command_id] = (name, event.requested_at)
            if len(self._open) > MAX_TRACKED:
                self._open.popitem(last=False)
            self._labelled(metrics.commands_requested, name).inc()
            if log.isEnabledFor(logging.INFO):  # the payload is built only to be logged
                log.info(
                    "command %s requested: %s",
                    name,
                    _shown(event.payload()),
                    extra={"station": station, "command": event.command_id},
                )
        elif isinstance(event, e.CommandDispatched):
            name, requested_at = self._open.get(event.command_id, ("unknown", ""))
            waited = _seconds_between(requested_at, event.dispatched_at)
            if waited is not None:
                self._labelled(metrics.command_latency, name, "dispatch").observe(waited)
            log.info(
                "command %s dispatched (attempt %d) %s after its request",
                name,
                event.attempt,
                "?" if waited is None else f"{waited:.3f} s",
                extra={"station": station, "command": event.command_id},
            )
        elif type(event) in TERMINAL_STATUS:
            status = TERMINAL_STATUS[type(event)]
            command_id: str = getattr(event, "command_id", "")
            name, requested_at = self._open.pop(command_id, ("unknown", ""))
            ended_at = getattr(event, "answered_at", None) or recorded.metadata.recorded_at
            took = _seconds_between(requested_at, ended_at)
            self._labelled(metrics.commands, name, status).inc()
            if took is not None:
                self._labelled(metrics.command_latency, name, "terminal").observe(took)
            detail = getattr(event, "detail", "") or ""
            log.info(
                "command %s %s %s after its request%s",
                name,
                status,
                "?" if took is None else f"{took:.3f} s",
                f": {detail[:300]}" if detail else "",
                extra={"station": station, "command": command_id},
            )
        elif isinstance(event, e.TransactionStarted):
            self._session_count(+1)
            self._labelled(metrics.sessions, "started").inc()
            log.info(
                "session %d started on connector %d (id tag %s, meter %d Wh)",
                event.transaction_id,
                event.connector_id,
                event.id_tag,
                event.meter_start,
                extra={"station": station},
            )
        elif isinstance(event, e.TransactionStopped):
            self._session_count(-1)
            self._labelled(metrics.sessions, "stopped").inc()
            if event.energy_wh is not None:
                metrics.energy.inc(event.energy_wh)
            log.info(
                "session %d stopped on connector %d (%s): %s Wh",
                event.transaction_id,
                event.connector_id,
                event.reason or "Local",
                "?" if event.energy_wh is None else event.energy_wh,
                extra={"station": station},
            )
        elif isinstance(event, e.TransactionAbandoned | e.TransactionClosed):
            self._session_count(-1)
            kind = "abandoned" if isinstance(event, e.TransactionAbandoned) else "closed"
            self._labelled(metrics.sessions, kind).inc()
            log.info("session %d %s", event.transaction_id, kind, extra={"station": station})

    def _session_count(self, change: int) -> None:
        self._sessions_open = max(0, self._sessions_open + change)
        self.metrics.sessions_open.set(self._sessions_open)

    async def commands_in_doubt(self) -> int:
        """Open commands sent longer than the response timeout ago, with no answer recorded."""
        now = self._clock.now().timestamp()
        count = 0
        for doc in await self._documents.list(COMMANDS, tag=OPEN):
            if doc.get("status") != CommandStatus.DISPATCHED or not doc.get("dispatched_at"):
                continue
            try:
                sent = datetime.fromisoformat(str(doc["dispatched_at"])).timestamp()
            except ValueError:
                continue
            if now - sent > self._response_timeout_s:
                count += 1
        return count

    async def projection_lag_seconds(self, projected: int) -> float:
        """Age of the first event the read models do not hold yet."""
        first = await self._store.read_all(projected, 1)
        if not first or not first[0].metadata.recorded_at:
            return 0.0
        try:
            recorded = datetime.fromisoformat(first[0].metadata.recorded_at).timestamp()
        except ValueError:
            return 0.0
        return max(0.0, self._clock.now().timestamp() - recorded)
