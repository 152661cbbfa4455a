"""The API under a stream that never stops changing: exhausted retries are a clear,
retryable 503 with Retry-After, never a 500."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx

from chargeledger.application.command_handler import CommandHandler
from chargeledger.bootstrap import build_node, build_use_cases
from chargeledger.config import Settings
from chargeledger.entrypoints.api import create_app
from tests.fakes import FakeClock, RacingEventStore


async def test_exhausted_retries_answer_503_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path / 'node.db'}", api_token="t")
    node = await build_node(settings)
    try:
        await node.registry.add("CP-BUSY", None, "2026-01-01T00:00:00Z")
        racing = CommandHandler(RacingEventStore(races=1000), FakeClock())
        # the API takes its use cases from the node: build them over the racing handler
        use_cases = build_use_cases(
            settings, node.clock, racing, node.documents, node.twin, node.store
        )
        node = replace(node, handler=racing, use_cases=use_cases)
        transport = httpx.ASGITransport(app=create_app(node))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", headers={"Authorization": "Bearer t"}
        ) as api:
            response = await api.post("/api/stations/CP-BUSY/commands/reset", json={"type": "Soft"})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"] == "Busy"
        assert "try again" in response.json()["detail"]
    finally:
        await node.close()
