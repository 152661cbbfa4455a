"""``/metrics`` and the HTTP request metrics of one node, and its start-up log."""

from __future__ import annotations

import dataclasses
import logging
import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chargeledger.adapters.metrics import NodeMetrics
from chargeledger.bootstrap import Node
from chargeledger.config import Settings

log = logging.getLogger("chargeledger")

SECRETS = ("api_token",)


async def scrape(node: Node) -> bytes:
    """Set the gauges of state, then render every family of the node's registry."""
    metrics = node.metrics
    metrics.connected_stations.labels("ocpp1.6").set(node.gateway.connected_count)
    metrics.handler_retried(node.handler.conflicts)
    head = await node.store.head_position()
    projected = node.projections.position
    metrics.log_head.set(head)
    metrics.projection_position.set(projected)
    metrics.projection_lag_events.set(max(0, head - projected))
    if node.telemetry is not None:
        behind = head > projected
        lag = await node.telemetry.projection_lag_seconds(projected) if behind else 0.0
        metrics.projection_lag_seconds.set(lag)
        metrics.commands_in_doubt.set(await node.telemetry.commands_in_doubt())
    return metrics.render()


def count_requests(app: FastAPI, node: Node) -> None:
    """Every answered request by method, route template (never the raw path: ids would
    grow the label set without bound) and status."""
    app.add_middleware(_RequestMetrics, metrics=node.metrics)


class _RequestMetrics:
    """A plain ASGI layer: Starlette's ``@app.middleware("http")`` runs each request
    through a task and memory streams of its own, which cost the node a third of its
    request rate (``bench commands``, baseline row)."""

    def __init__(self, app: ASGIApp, metrics: NodeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            # The router names the matched route in the (shared) scope.
            template = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.http_requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.http_latency.labels(template).observe(time.perf_counter() - started)


def masked_url(url: str) -> str:
    """The URL without the password it may carry (postgresql://user:secret@host/db)."""
    scheme, sep, rest = url.partition("//")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}//{credentials.split(':', 1)[0]}:***@{host}"


def log_settings(settings: Settings) -> None:
    """The configuration at start, one line; a token the user chose is not printed."""
    shown = dataclasses.asdict(settings)
    for name in SECRETS:
        if shown.get(name):
            chosen = not settings.api_token_generated
            shown[name] = "***" if chosen else "(made for this run, printed above)"
    shown["store"] = masked_url(settings.store)
    log.info(
        "node starting with %s",
        " ".join(f"{k}={v}" for k, v in shown.items() if v not in (None, "", ())),
    )
