"""The baseline server of bench commands: the same node, plus an HTTP route whose
handler sends RemoteStartTransaction itself and waits for the answer, recording
nothing before it acts (the approach of SteVe and OCPP.Core)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException

from chargeledger.bootstrap import build_node
from chargeledger.config import Settings
from chargeledger.entrypoints.api import create_app


async def main() -> None:
    parser = argparse.ArgumentParser()
    for option in (
        "--store",
        "--ocpp-port",
        "--api-port",
        "--api-token",
        "--unknown-stations",
        "--heartbeat-interval",
    ):
        parser.add_argument(option)
    args = parser.parse_args()
    settings = Settings(
        store=args.store,
        ocpp_port=int(args.ocpp_port),
        api_port=int(args.api_port),
        api_token=args.api_token,
        unknown_stations=args.unknown_stations,
        heartbeat_interval_s=int(args.heartbeat_interval),
    )
    node = await build_node(settings)
    await node.gateway.start(settings.host, settings.ocpp_port)
    app: FastAPI = create_app(node)

    @app.post("/baseline/{station_id}/remote-start")
    async def remote_start(station_id: str, body: dict[str, Any]) -> dict[str, Any]:
        session = node.gateway.session(station_id)
        if session is None:
            raise HTTPException(404, "not connected")
        payload = {"connectorId": body["connector_id"], "idTag": body["id_tag"]}
        return await session.call("RemoteStartTransaction", payload)

    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.api_port,
            log_level="warning",
            lifespan="off",
            timeout_keep_alive=30,
        )
    )
    supervisor = asyncio.create_task(node.supervisor.run())
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    serving = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    supervisor.cancel()
    with contextlib.suppress(BaseException):
        await serving
    await node.close()


if __name__ == "__main__":
    asyncio.run(main())
