"""What an orchestrator and Prometheus ask of a node, without a token: liveness
(``/healthz``), readiness (``/readyz``) and the metrics (``/metrics``)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from chargeledger.adapters.metrics import CONTENT_TYPE
from chargeledger.bootstrap import Node
from chargeledger.entrypoints import observability


def probes_router(node: Node) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """200 while the process is alive; what it found wrong is in the body."""
        # A liveness probe must answer fast even when the store hangs.
        store = await node.store_probe.check(timeout_s=1.0) if node.store_probe else None
        return {
            "status": "ok",
            "node": node.settings.node_id,
            "store": None if store is None else {"ok": store.ok, "detail": store.detail},
            "quarantined": {
                "count": len(node.quarantine),
                "documents": [found.view() for found in node.quarantine.items()[:100]],
            },
        }

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 when every readiness check of the node passes, else 503 naming what fails."""
        # At once, not in turn: a hung store must not add up every check's timeout.
        verdicts = await asyncio.gather(*(check() for check in node.readiness))
        checks = {v.name: {"ok": v.ok, "detail": v.detail} for v in verdicts}
        failing = {v.name: v.detail for v in verdicts if not v.ok}
        body = {
            "status": "not ready" if failing else "ready",
            "node": node.settings.node_id,
            "checks": checks,
            "failing": failing,
        }
        return JSONResponse(body, 503 if failing else 200)

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        """Prometheus text format: every family with HELP and TYPE (README, Metrics)."""
        return Response(await observability.scrape(node), media_type=CONTENT_TYPE)

    return router
