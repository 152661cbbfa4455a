"""An ASGI app behind the node's HttpGuard, served by uvicorn on 127.0.0.1, as
`chargeledger serve` serves the API (the guard's token ``t``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from chargeledger.entrypoints.http_guard import HttpGuard
from tests.conftest import free_port

TOKEN = "t"


@asynccontextmanager
async def guarded_server(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            HttpGuard(app, token=TOKEN, max_body_bytes=65536),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
