"""The HTTP API's front door: a pure ASGI middleware in front of FastAPI.

It refuses what must never reach the application, before the application reads a
byte of the body: a request to ``/api/`` without the token (401), a body above the
limit, by its ``Content-Length`` or counted while a chunked body streams in (413),
a numeric query parameter no store can hold, and a path, query or JSON body holding
what is not text to every store (U+0000, a lone surrogate, bytes that are not UTF-8:
422, where PostgreSQL would fail with a 500). It is also the last resort:
an exception escaping the application is one JSON 500, logged once, never an HTML
page or a dropped connection. Every refusal is ``{"error", "detail"}`` like the rest
of the API.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_QUERY_INTEGER = 2**63 - 1
"""The largest position, version or count the stores can hold (a signed 64-bit integer)."""

INTEGER_QUERY_PARAMETERS = frozenset({"min_position", "from_version", "after", "limit"})
"""Query parameters every route that takes them reads as a count or a log position."""

_DECIMAL = re.compile(r"[0-9]{1,19}")


class HttpGuard:
    """Wraps the API app; ``token_in_query`` names the paths (the event stream, which a
    browser's EventSource opens without headers) that may carry ``?token=`` instead."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        max_body_bytes: int,
        protected_prefix: str = "/api/",
        token_in_query: frozenset[str] = frozenset({"/api/events/stream"}),
    ) -> None:
        self.app = app
        self._token = token.encode()
        self.max_body_bytes = max_body_bytes
        self._protected_prefix = protected_prefix
        self._token_in_query = token_in_query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, error, detail = refusal
            # The unread body is still on the wire: close rather than read it.
            await _answer(send, status, error, detail, close=_has_body(headers))
            return
        exchange = _Exchange(receive, send, self.max_body_bytes)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            if exchange.refused:
                return  # the app only complains of the body it was denied; 413 is sent
            log.exception("%s %s failed", scope["method"], scope["path"])
            if not exchange.started:
                await _answer(
                    send, 500, "InternalError", "the CSMS could not handle it; see its log"
                )
            elif not exchange.finished:
                # End the response cleanly (a client sees a complete, short answer).
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _refusal(
        self, scope: Scope, headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, str, str] | None:
        path: str = scope["path"]
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if path.startswith(self._protected_prefix) and not self._authorized(path, headers, query):
            return 401, "Unauthorized", "send Authorization: Bearer <the API token>"
        declared = _content_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            return 413, "PayloadTooLarge", _too_large(self.max_body_bytes)
        for name, value in query:
            if name in INTEGER_QUERY_PARAMETERS and not _bounded_integer(value):
                wanted = f"a whole number from 0 to {MAX_QUERY_INTEGER}"
                return 422, "ValidationError", f"query.{name}: {wanted}, not {value[:40]!r}"
            if "\x00" in name or "\x00" in value:
                return 422, "ValidationError", f"query.{name!r}: {_NUL}"
        problem = _path_problem(path, scope.get("raw_path"))
        if problem is not None:
            return 422, "ValidationError", f"path: {problem}"
        return None

    def _authorized(
        self, path: str, headers: list[tuple[bytes, bytes]], query: list[tuple[str, str]]
    ) -> bool:
        if path in self._token_in_query:
            tokens = [value for name, value in query if name == "token"]
            if len(tokens) == 1 and hmac.compare_digest(tokens[0].encode(), self._token):
                return True
        supplied = [value for name, value in headers if name == b"authorization"]
        if len(supplied) != 1:  # none, or two that could disagree
            return False
        presented = supplied[0].removeprefix(b"Bearer ").strip()
        return hmac.compare_digest(presented, self._token)


class _Exchange:
    """One request as the app sees it: its body counted as it arrives, its answer
    watched, and nothing of the app's reaches the client once the guard answered."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive = receive
        self._send = send
        self._limit = limit
        self._received = 0
        self._body: list[bytes] = []
        self.refused = False
        self.started = False
        self.finished = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                return await self._refuse(413, "PayloadTooLarge", _too_large(self._limit))
            self._body.append(message.get("body", b""))
            if not message.get("more_body", False):
                problem = _body_problem(b"".join(self._body))
                self._body = []
                if problem is not None:  # the app has the body only once it all came
                    return await self._refuse(422, "ValidationError", problem, close=False)
        return message

    async def _refuse(self, status: int, error: str, detail: str, close: bool = True) -> Message:
        self.refused = True
        if not self.started:
            self.started = self.finished = True
            await _answer(self._send, status, error, detail, close=close)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.finished = True
        await self._send(message)


def _too_large(limit: int) -> str:
    return f"the body is larger than {limit} bytes (the node's --max-body-bytes); send less"


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length" and value.strip().isdigit():
            return int(value)
    return None


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    declared = _content_length(headers)
    chunked = any(name == b"transfer-encoding" for name, _ in headers)
    return chunked or (declared is not None and declared > 0)


_NUL = "holds U+0000, which no store keeps as text; send printable text"
_SURROGATE = "holds a lone surrogate (U+D800-U+DFFF), which is not text"
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
"""A JSON escape of U+0000 or of a surrogate: the only way a body can hold either (raw
U+0000 and encoded surrogates are not JSON), and rare, so most bodies are not parsed."""


def _path_problem(path: str, raw_path: bytes | None) -> str | None:
    if "\x00" in path:
        return _NUL
    if raw_path is not None:
        try:
            unquote_to_bytes(raw_path).decode("utf-8")
        except UnicodeDecodeError:
            return "not UTF-8 once percent-decoded (a lone surrogate is not text either)"
    return None


def _body_problem(body: bytes) -> str | None:
    """Where a JSON body holds a string (or key) with U+0000 or a lone surrogate, if it
    does; a body that is not JSON is the app's to refuse."""
    if _SUSPECT_ESCAPE.search(body) is None:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    pending: list[tuple[str, Any]] = [("body", document)]
    while pending:  # not recursive: a body may nest as deep as its parser went
        where, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                problem = _string_problem(key)
                if problem is not None:
                    return f"{where[:200]} (a key): {problem}"
                pending.append((f"{where}.{key}", item))
        elif isinstance(value, list):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str):
            problem = _string_problem(value)
            if problem is not None:
                return f"{where[:200]}: {problem}"
    return None


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return _NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE
    return None


def _bounded_integer(text: str) -> bool:
    return _DECIMAL.fullmatch(text) is not None and int(text) <= MAX_QUERY_INTEGER


async def _answer(send: Send, status: int, error: str, detail: str, close: bool = False) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
