"""The node's Prometheus metrics (``/metrics``), through ``prometheus_client``.

Each node has its own ``CollectorRegistry``: tests run several nodes in one process,
and a node's numbers must not leak into another's. Counters and histograms move
where things happen; gauges of state are set just before each scrape.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
    process_collector,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from chargeledger.application.document_merges import DocumentMerge, write_merging
from chargeledger.application.forwarding_store import ForwardingEventStore
from chargeledger.application.ports import (
    AppendResult,
    ChainedAppends,
    CommandAppend,
    DocumentStore,
    DocumentWrite,
    EventStore,
    Metadata,
    VersionConflictError,
)
from chargeledger.domain.events import Event

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COMMAND_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

T = TypeVar("T")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class NodeMetrics:
    def __init__(self, node_id: str, version: str = "") -> None:
        self.registry = registry = CollectorRegistry()
        # Prefixed like every family here (the contract): the process's memory, CPU, files.
        process_collector.ProcessCollector(namespace="chargeledger", registry=registry)
        Info("chargeledger_node", "This node.", registry=registry).info(
            {"node": node_id, "version": version}
        )
        # -- stations and OCPP ------------------------------------------------------
        self.connected_stations = Gauge(
            "chargeledger_connected_stations",
            "Stations connected to this node, by OCPP protocol.",
            ["protocol"],
            registry=registry,
        )
        self.connections_opened = Counter(
            "chargeledger_connections_opened",
            "Station WebSocket connections accepted, by OCPP protocol.",
            ["protocol"],
            registry=registry,
        )
        self.connections_closed = Counter(
            "chargeledger_connections_closed",
            "Station connections ended, by reason (refused: the handshake was turned down).",
            ["reason"],
            registry=registry,
        )
        self.ocpp_messages = MessageCounts()
        registry.register(self.ocpp_messages)
        self.call_round_trip = Histogram(
            "chargeledger_ocpp_call_round_trip_seconds",
            "From sending our CALL to the station's answer, by action.",
            ["action"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # -- commands and sessions --------------------------------------------------
        self.commands_requested = Counter(
            "chargeledger_commands_requested",
            "Operator commands recorded, by name.",
            ["command"],
            registry=registry,
        )
        self.commands = Counter(
            "chargeledger_commands",
            "Operator commands ended, by name and terminal status.",
            ["command", "status"],
            registry=registry,
        )
        self.command_latency = Histogram(
            "chargeledger_command_latency_seconds",
            "From an operator's request to its CALL (stage=dispatch) and to its end "
            "(stage=terminal), by name.",
            ["command", "stage"],
            buckets=COMMAND_BUCKETS,
            registry=registry,
        )
        self.commands_in_doubt = Gauge(
            "chargeledger_commands_in_doubt",
            "Commands sent longer than the response timeout ago without an answer recorded.",
            registry=registry,
        )
        self.sessions_open = Gauge(
            "chargeledger_sessions_open",
            "Charging sessions started and not yet stopped, abandoned or closed.",
            registry=registry,
        )
        self.sessions = Counter(
            "chargeledger_sessions",
            "Charging sessions started and ended (event=started, stopped, abandoned, closed).",
            ["event"],
            registry=registry,
        )
        self.energy = Counter(
            "chargeledger_energy_delivered_wh",
            "Energy delivered in the charging sessions that stopped, in Wh.",
            registry=registry,
        )
        # -- store, projections, twins ----------------------------------------------
        self.store_append = Histogram(
            "chargeledger_store_append_seconds",
            "Time of one append to the event store (or one chain of appends).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.store_append_events = Histogram(
            "chargeledger_store_append_events",
            "Events written by one append (or one chain of appends).",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.store_errors = Counter(
            "chargeledger_store_errors",
            "Store operations that failed (not counting version conflicts), by operation.",
            ["operation"],
            registry=registry,
        )
        self.version_conflicts = Counter(
            "chargeledger_version_conflicts",
            "Appends refused because another writer moved the stream first.",
            registry=registry,
        )
        self.append_retries = Counter(
            "chargeledger_append_retries",
            "Times the command handler retried after a version conflict (since start).",
            registry=registry,
        )
        self._retries_counted = 0
        self.log_head = Gauge(
            "chargeledger_log_head_position", "The event log's last position.", registry=registry
        )
        self.projection_position = Gauge(
            "chargeledger_projection_position",
            "The last log position in the read models.",
            registry=registry,
        )
        self.projection_lag_events = Gauge(
            "chargeledger_projection_lag_events",
            "Events in the log not yet in the read models.",
            registry=registry,
        )
        self.projection_lag_seconds = Gauge(
            "chargeledger_projection_lag_seconds",
            "Age of the oldest event not yet in the read models (0 when caught up).",
            registry=registry,
        )
        self.twin_flush = Histogram(
            "chargeledger_twin_flush_seconds",
            "Time of one write of the station twins to the document store.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # -- HTTP -------------------------------------------------------------------
        self.http_requests = Counter(
            "chargeledger_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_latency = Histogram(
            "chargeledger_http_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def station_call(self, action: str, outcome: str, label: Callable[[str], str]) -> None:
        """Count a station's CALL (this runs for every heartbeat: a dict, no lock);
        ``label`` maps a made-up action name to one bounded label."""
        counts = self.ocpp_messages.counts
        key = ("in", action, outcome)
        if key in counts:
            counts[key] += 1
        else:
            bounded = ("in", label(action), outcome)
            counts[bounded] = counts.get(bounded, 0) + 1

    def call_answered(self, action: str, outcome: str, seconds: float | None) -> None:
        counts = self.ocpp_messages.counts
        counts["out", action, outcome] = counts.get(("out", action, outcome), 0) + 1
        if seconds is not None:
            self.call_round_trip.labels(action).observe(seconds)

    def handler_retried(self, since_start: int) -> None:
        """The command handler counts its retries itself; the counter catches up at a scrape."""
        if since_start > self._retries_counted:
            self.append_retries.inc(since_start - self._retries_counted)
            self._retries_counted = since_start

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MessageCounts(Collector):
    """``chargeledger_ocpp_messages_total``, counted in a plain dict: the event loop
    is the only writer and the only reader, and a locked counter per heartbeat would
    cost more than the heartbeat's schema check."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(
            "chargeledger_ocpp_messages",
            "OCPP messages: in (the station's CALLs, by our answer: result or error) and "
            "out (our CALLs, by the station's answer), by action.",
            labels=["direction", "action", "outcome"],
        )

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for labels, count in list(self.counts.items()):
            family.add_metric(list(labels), count)
        yield family


class MeasuredEventStore(ForwardingEventStore):
    """The event store, with each append timed and counted (for the command handler)."""

    def __init__(self, inner: EventStore, metrics: NodeMetrics) -> None:
        super().__init__(inner)
        self.metrics = metrics

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Any = None,
    ) -> AppendResult:
        return await self._timed(
            len(events),
            lambda: self.inner.append(stream_id, events, expected_version, metadata, outcome),
        )

    async def _timed(self, size: int, append: Callable[[], Awaitable[T]]) -> T:
        metrics = self.metrics
        started = time.perf_counter()
        try:
            result = await append()
        except VersionConflictError:
            metrics.version_conflicts.inc()
            raise
        except Exception:
            metrics.store_errors.labels("append").inc()
            raise
        metrics.store_append.observe(time.perf_counter() - started)
        metrics.store_append_events.observe(size)
        return result


class MeasuredChainingEventStore(MeasuredEventStore):
    """The same, for a store that also chains appends (``ChainedAppends``)."""

    async def append_chain(
        self, stream_id: str, appends: Sequence[CommandAppend], expected_version: int
    ) -> list[AppendResult]:
        chain = self.inner
        assert isinstance(chain, ChainedAppends)
        size = sum(len(a.events) for a in appends)
        return await self._timed(
            size, lambda: chain.append_chain(stream_id, appends, expected_version)
        )


def measured(store: EventStore, metrics: NodeMetrics) -> EventStore:
    if isinstance(store, ChainedAppends):
        return MeasuredChainingEventStore(store, metrics)
    return MeasuredEventStore(store, metrics)


class MeasuredDocuments:
    """A document store whose writes are timed: given to the twin service, whose only
    writes are its flushes."""

    def __init__(self, inner: DocumentStore, metrics: NodeMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        started = time.perf_counter()
        try:
            await self.inner.write(writes)
        except ValueError:
            raise  # a document the store refuses: the twin writes them one by one
        except Exception:
            self.metrics.store_errors.labels("twin_write").inc()
            raise
        self.metrics.twin_flush.observe(time.perf_counter() - started)

    async def write_merging(
        self, writes: Sequence[DocumentWrite], merges: Sequence[DocumentMerge]
    ) -> None:
        """Timed as a write: the twin's flush when it merges meter readings too."""
        started = time.perf_counter()
        try:
            await write_merging(self.inner, writes, merges)
        except ValueError:
            raise
        except Exception:
            self.metrics.store_errors.labels("twin_write").inc()
            raise
        self.metrics.twin_flush.observe(time.perf_counter() - started)

    async def get(self, model: str, key: str) -> dict[str, Any] | None:
        return await self.inner.get(model, key)

    async def list(self, model: str, tag: str | None = None) -> list[dict[str, Any]]:
        return await self.inner.list(model, tag)

    async def checkpoint(self, name: str) -> int:
        return await self.inner.checkpoint(name)

    async def commit_batch(self, name: str, position: int, writes: Sequence[DocumentWrite]) -> None:
        await self.inner.commit_batch(name, position, writes)

    async def forget(self, models: Sequence[str], checkpoint_name: str) -> int:
        return await self.inner.forget(models, checkpoint_name)

    async def next_in_sequence(self, name: str) -> int:
        return await self.inner.next_in_sequence(name)
