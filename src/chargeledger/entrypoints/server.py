"""Runs one node: OCPP endpoint, HTTP API and page, dispatcher, projections, twin writer."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Generator

import uvicorn

from chargeledger.adapters import logs
from chargeledger.bootstrap import Node, bounded_stage, build_node
from chargeledger.config import Settings
from chargeledger.domain.enums import UnknownStations
from chargeledger.entrypoints import observability
from chargeledger.entrypoints.api import create_app
from chargeledger.entrypoints.api.command_fast_path import CommandFastPath
from chargeledger.entrypoints.http_connections import (
    AcceptErrorLog,
    HttpLimits,
    default_http_connection_cap,
    guarded_protocol,
)
from chargeledger.entrypoints.http_guard import HttpGuard
from chargeledger.entrypoints.http_listener import CappedServer

log = logging.getLogger("chargeledger")


class _EmbeddedServer(CappedServer):
    """uvicorn inside our loop: the node, not uvicorn, owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(settings: Settings, ready: asyncio.Event | None = None) -> None:
    logs.bind(node=settings.node_id)  # every task started from here on carries it
    node = await build_node(settings)
    # Everything built so far lives as long as the node: keep it out of the
    # collector's full passes, which would otherwise stall every connection.
    gc.collect()
    gc.freeze()
    supervisor = asyncio.create_task(node.supervisor.run(), name="supervisor")
    if not await _gateway_listening(node, supervisor):
        supervisor.cancel()
        await asyncio.gather(supervisor, return_exceptions=True)
        await _close(node)
        raise SystemExit(
            f"could not listen for OCPP on {settings.host}:{settings.ocpp_port} "
            "(see the log above); choose another --ocpp-port or free that one"
        )
    # the API port's; the OCPP port's are the gateway's own line, which names its port
    accept_errors = AcceptErrorLog(port=f"the API port {settings.api_port}")
    asyncio.get_running_loop().set_exception_handler(accept_errors)
    limits = http_limits(settings)
    api = _EmbeddedServer(
        uvicorn.Config(
            HttpGuard(
                CommandFastPath(
                    create_app(node), token=settings.api_token, metrics=node.metrics, node=node
                ),
                token=settings.api_token,
                max_body_bytes=settings.max_body_bytes,
            ),
            host=settings.host,
            port=settings.api_port,
            log_level="warning",
            log_config=None,  # its lines go through our handler, in our format
            lifespan="off",
            http=guarded_protocol(limits),
            timeout_keep_alive=settings.http_keep_alive_s,
        ),
        accept_failed=accept_errors.failed,
    )
    scheme = "wss" if settings.tls_cert else "ws"
    print(f"OCPP endpoint: {scheme}://{settings.host}:{settings.ocpp_port}/ocpp/{{station_id}}")
    print(f"HTTP API:      http://{settings.host}:{settings.api_port}/api/stations")
    page = f"http://{settings.host}:{settings.api_port}/"
    if settings.api_token_generated:
        print(f"Web page:      {page}#token={settings.api_token}")
    else:  # a token the user chose stays out of the output (and the journal)
        print(f"Web page:      {page}  (add #token=YOUR_API_TOKEN to sign in)")
    if settings.api_token_generated:
        print(
            f"API token:     {settings.api_token}  (made for this run; pass --api-token to fix it)"
        )
    if settings.unknown_stations == UnknownStations.ACCEPT:
        print("Unknown stations are accepted (--unknown-stations accept).")
    print(f"Store:         {observability.masked_url(settings.store)}", flush=True)
    observability.log_settings(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    tasks = [supervisor, asyncio.create_task(api.serve(), name="http")]
    if ready is not None:
        ready.set()
    try:
        await _until_stopped(stop, tasks)
    finally:
        log.info("node shutting down: closing station connections and flushing the twins")
        started = time.monotonic()
        api.should_exit = True
        for task in tasks:
            task.cancel()
        await bounded_stage(
            "stopping the workers and the HTTP server",
            asyncio.gather(*tasks, return_exceptions=True),
            2.0,
        )
        # 8 s in all, inside the 10 s that service managers (and our tests) wait
        await node.close(within_s=max(0.5, 8.0 - (time.monotonic() - started)))
        log.info("node stopped in %.1f s", time.monotonic() - started)


def http_limits(settings: Settings) -> HttpLimits:
    """The settings' caps, 0 meaning the default that leaves descriptors for stations."""
    port_cap = settings.max_http_connections or default_http_connection_cap()
    per_client = settings.max_http_connections_per_client or max(4, port_cap // 4)
    return HttpLimits(settings.http_header_timeout_s, port_cap, min(per_client, port_cap))


async def _gateway_listening(node: Node, supervisor: asyncio.Task[None]) -> bool:
    """The gateway is a supervised worker: wait until it listens, or give up."""
    listening = asyncio.create_task(node.gateway.listening.wait())
    await asyncio.wait([listening, supervisor], timeout=10.0, return_when="FIRST_COMPLETED")
    listening.cancel()
    return node.gateway.listening.is_set()


async def _until_stopped(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for task in done:
        if task is not stopper and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _close(node: Node) -> None:
    with contextlib.suppress(Exception):
        await node.close()
