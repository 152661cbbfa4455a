"""The operator's command POST without FastAPI's per-request machinery.

``POST /api/stations/{id}/commands/{name}`` is the API's busiest route, and under
load FastAPI's layers (route matching across every router, parameter solving,
validation and serialization, five middlewares) cost the node more CPU than the
command itself (``bench commands``, docs/benchmarks.md). This ASGI layer sits
between the ``HttpGuard`` and the app. It answers the ordinary request itself:
known command name, valid station id, at most one Idempotency-Key that the route
would accept, ``Content-Type: application/json`` and a body that is a JSON object.
It then runs the route's own ``request_command`` and answers with the same bytes,
status and headers, through the app's own exception handlers, and counts the request
in the same metrics. Anything else (every refusal that FastAPI words, every odd
header) goes to the app unchanged, with the body it already read handed back, so the
contract and the OpenAPI document stay FastAPI's.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from chargeledger.adapters.metrics import NodeMetrics
from chargeledger.bootstrap import Node
from chargeledger.entrypoints.api.commands import (
    BODIES,
    MAX_IDEMPOTENCY_KEY_CHARACTERS,
    CommandName,
    request_command,
)
from chargeledger.entrypoints.api.stations import valid_station_id

TEMPLATE = "/api/stations/{station_id}/commands/{name}"
"""The route's template, as the request metrics label it."""

_PATH = re.compile(r"/api/stations/([^/]+)/commands/([^/]+)")
_KEY = re.compile(r"[^/]+")
_VIEW = TypeAdapter(dict[str, Any])


class CommandFastPath:
    """Wraps the API app (``create_app``); ``token`` is the API token."""

    def __init__(self, app: FastAPI, *, token: str, metrics: NodeMetrics, node: Node) -> None:
        self.app = app
        self._token = token.encode()
        self._metrics = metrics
        self._node = node
        # The metrics' children, looked up once: labels() takes a lock and a lookup.
        self._counted: dict[int, Any] = {}
        self._latency = metrics.http_latency.labels(TEMPLATE)
        self.answered = 0
        """Requests this layer answered itself (the others went to the app)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        taken = self._taken(scope)
        if taken is None:
            await self.app(scope, receive, send)
            return
        station_id, name, key = taken
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        fields = _json_object(body) if messages[-1]["type"] == "http.request" else None
        if fields is None:
            await self.app(scope, _replaying(messages, receive), send)
            return
        self.answered += 1
        await self._answer(scope, receive, send, station_id, name, key, fields)

    def _taken(self, scope: Scope) -> tuple[str, CommandName, str | None] | None:
        """The request's station, command and key when this layer may answer it."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        matched = _PATH.fullmatch(scope["path"])
        if matched is None or matched[2] not in BODIES or scope.get("query_string"):
            return None
        station_id = matched[1]
        if not valid_station_id(station_id):
            return None
        content_type: list[bytes] = []
        authorization: list[bytes] = []
        keys: list[bytes] = []
        for header, value in scope["headers"]:
            if header == b"content-type":
                content_type.append(value)
            elif header == b"authorization":
                authorization.append(value)
            elif header == b"idempotency-key":
                keys.append(value)
        if content_type != [b"application/json"] or len(authorization) != 1 or len(keys) > 1:
            return None
        presented = authorization[0].removeprefix(b"Bearer ").strip()
        if not authorization[0] or not hmac.compare_digest(presented, self._token):
            return None
        key = keys[0].decode("latin-1") if keys else None
        if key is not None and not (
            len(key) <= 4 * MAX_IDEMPOTENCY_KEY_CHARACTERS and _KEY.fullmatch(key)
        ):
            return None
        return station_id, CommandName(matched[2]), key

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        station_id: str,
        name: CommandName,
        key: str | None,
        fields: dict[str, Any],
    ) -> None:
        started = time.perf_counter()
        status = 500
        try:
            try:
                view = await request_command(self._node, station_id, name, fields, key)
            except Exception as exc:
                handler = self._handler_of(exc)
                response = await handler(Request(scope, receive), exc)
                status = response.status_code
                await response(scope, receive, send)
                if handler is self._last_resort:
                    raise  # as Starlette does: the guard in front logs it
                return
            content = _VIEW.dump_json(_VIEW.validate_python(view), by_alias=True)
            status = 202
            await send(
                {
                    "type": "http.response.start",
                    "status": 202,
                    "headers": [
                        (b"content-length", str(len(content)).encode()),
                        (b"content-type", b"application/json"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": content})
        finally:
            counted = self._counted.get(status)
            if counted is None:
                counted = self._counted[status] = self._metrics.http_requests.labels(
                    "POST", TEMPLATE, str(status)
                )
            counted.inc()
            self._latency.observe(time.perf_counter() - started)

    def _handler_of(self, exc: Exception) -> Any:
        """The app's handler for ``exc``, found as Starlette finds it (by its classes)."""
        handlers = self.app.exception_handlers
        for kind in type(exc).__mro__:
            if kind is not Exception and kind in handlers:
                return handlers[kind]
        return self._last_resort

    @property
    def _last_resort(self) -> Any:
        return self.app.exception_handlers[Exception]


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The body as the route's ``dict`` would take it; ``None`` leaves it to FastAPI."""
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if type(parsed) is dict else None


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands back what was already read, then reads on."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
