"""The event log over HTTP: the live server-sent stream of the whole log (for the
console's EventSource) and one station's history, a page at a time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse

from chargeledger.application.command_handler import stream_of
from chargeledger.application.holdings_views import event_view
from chargeledger.application.paging import Page, page_size
from chargeledger.application.ports import RecordedEvent
from chargeledger.bootstrap import Node
from chargeledger.entrypoints.api.errors import ApiError
from chargeledger.entrypoints.api.paging import Cursor, Limit, key_of, paged
from chargeledger.entrypoints.api.preconditions import token_or_query_required, token_required
from chargeledger.entrypoints.api.stations import StationIdPath
from chargeledger.entrypoints.http_guard import MAX_QUERY_INTEGER

TELEMETRY_COALESCE_S = 0.2
"""After a StationTelemetry event, the changes of this long are sent as the next one."""


def events_router(node: Node) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/api/events/stream",
        dependencies=[Depends(token_or_query_required(node.settings.api_token))],
    )
    async def event_stream(
        after: int | None = None,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> StreamingResponse:
        """Server-sent events of the log, live, from ``after`` (default: from now on). A
        reconnecting EventSource sends ``Last-Event-ID`` and goes on from there.

        Between them, ``StationTelemetry`` events (no id: they are not in the log) name
        the stations whose twin changed (connection, status, boot, reports, meter
        readings), ``{"stations": [...]}``, or ``{"stations": null}`` for "any": the
        console reads those again instead of polling."""
        if after is None and last_event_id is not None:
            after = _event_id(last_event_id)
        start = await node.store.head_position() if after is None else after
        changes = node.twin.changes

        async def lines() -> AsyncIterator[str]:
            position = start
            seen = changes.mark()
            yield ": chargeledger event stream\n\n"
            while True:
                batch = await node.store.read_all(position, 500)
                for recorded in batch:
                    position = recorded.position
                    body = json.dumps({"stream_id": recorded.stream_id, **event_view(recorded)})
                    yield f"id: {position}\nevent: {body_type(recorded)}\ndata: {body}\n\n"
                seen, stations = changes.since(seen)
                if stations != []:
                    yield f"event: StationTelemetry\ndata: {json.dumps({'stations': stations})}\n\n"
                    await asyncio.sleep(TELEMETRY_COALESCE_S)
                elif not batch:
                    await _first_of(
                        node.store.wait_for_events(position, 15.0), changes.wait(seen, 15.0)
                    )
                    yield ": keep-alive\n\n"

        return StreamingResponse(lines(), media_type="text/event-stream")

    views = node.use_cases.views
    api = [Depends(token_required(node.settings.api_token))]

    @router.get("/api/stations/{station_id}/events", dependencies=api)
    async def station_events(
        station_id: StationIdPath,
        request: Request,
        response: Response,
        from_version: int = 1,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """The station's event history, oldest first, from ``from_version`` on."""
        start = max(1, from_version)
        if cursor is not None:
            version = key_of(cursor)
            if version is None or not version.isdigit():
                raise ApiError(422, "ValidationError", "query.cursor: not a cursor of this list")
            start = max(start, int(version) + 1)
        history = await node.store.read_stream(stream_of(station_id), start)
        if not history and start == 1 and not await views.station_known(station_id):
            raise ApiError(404, "StationNotFound", f"no station {station_id!r}")
        size = page_size(limit)
        shown = history[:size]
        more = len(history) > size
        page = Page(
            [event_view(recorded) for recorded in shown],
            str(shown[-1].version) if more and shown else None,
        )
        return paged(request, response, page, size)

    return router


async def _first_of(*waits: Awaitable[object]) -> None:
    """Until the first of ``waits`` ends; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _event_id(header: str) -> int:
    """A reconnecting EventSource's ``Last-Event-ID``: a position this stream sent."""
    if not (header.isascii() and header.isdigit() and int(header) <= MAX_QUERY_INTEGER):
        raise ApiError(400, "ValidationError", "header.last-event-id: a position this stream sent")
    return int(header)


def body_type(recorded: RecordedEvent) -> str:
    return type(recorded.event).__name__
