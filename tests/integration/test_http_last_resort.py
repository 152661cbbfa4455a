"""The last resort (issue 10): a route that fails unexpectedly answers one JSON 500
and is logged once, on the real stack — a node's API app behind the guard, served
by uvicorn on 127.0.0.1 — where Starlette re-raises what its handler answered."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi.responses import StreamingResponse

from chargeledger.bootstrap import build_node
from chargeledger.config import Settings
from chargeledger.entrypoints.api import create_app
from tests.integration.guarded_server import guarded_server


async def test_an_unexpected_failure_is_one_json_500_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = await build_node(Settings(store=f"sqlite:///{tmp_path / 'node.db'}", api_token="t"))
    app = create_app(node)

    @app.get("/api/broken")
    async def broken() -> None:
        raise KeyError("a bug the tests planted")

    @app.get("/api/broken-stream")
    async def broken_stream() -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            yield "data: one\n\n"
            raise KeyError("a bug midway")

        return StreamingResponse(lines(), media_type="text/event-stream")

    try:
        async with (
            guarded_server(app) as url,
            httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer t"}) as client,
        ):
            with caplog.at_level(logging.ERROR):
                failed = await client.get("/api/broken")
                streamed = await client.get("/api/broken-stream")  # ends, not dropped
                after = await client.get("/healthz")
        assert failed.status_code == 500
        assert failed.headers["content-type"] == "application/json"
        assert failed.json() == {
            "error": "InternalError",
            "detail": "the CSMS could not handle it; see its log",
        }
        assert streamed.status_code == 200 and streamed.text == "data: one\n\n"
        assert after.status_code == 200
        tracebacks = [r for r in caplog.records if r.exc_info]
        assert len(tracebacks) == 2, [r.getMessage() for r in tracebacks]  # one per failure
        assert {r.getMessage() for r in tracebacks} == {
            "GET /api/broken failed",
            "GET /api/broken-stream failed",
        }
    finally:
        await node.close()
