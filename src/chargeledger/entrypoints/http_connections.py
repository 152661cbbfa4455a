"""The HTTP API's connections: what uvicorn does not bound, bounded here.

uvicorn closes a connection idle between requests (``timeout_keep_alive``) but not
one that never finishes its request line and headers (slow loris), nor one that
never sends a byte; and it accepts every connection the kernel hands it until the
process runs out of file descriptors, which the OCPP stations need. This protocol,
uvicorn's own h11 protocol with three additions, gives each request's headers a
deadline (408, then closed), caps the connections per port and per client address
(503, then closed, before any of the connection's bytes are read; a node's port
refuses them as it accepts them, see ``http_listener``), and ``AcceptErrorLog``
says "out of file descriptors" once per interval with a count instead of one
traceback per refused accept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

log = logging.getLogger(__name__)

FD_SHARE_FOR_HTTP = 4
"""The HTTP API may hold at most 1/4 of the process's file descriptors; the rest
are the stations' and the store's."""


def default_http_connection_cap() -> int:
    """A quarter of ``RLIMIT_NOFILE``, between 16 and 1024 connections."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(16, min(1024, soft // FD_SHARE_FOR_HTTP))


@dataclass(frozen=True)
class HttpLimits:
    header_timeout_s: float
    max_connections: int
    max_connections_per_client: int


@dataclass
class ConnectionCount:
    """The connections a port holds, in all and per client address."""

    limits: HttpLimits
    total: int = 0
    per_client: Counter[str] = field(default_factory=Counter)

    def admit(self, client: str) -> str | None:
        """Counts the connection in, or says why it is refused (and does not count it)."""
        if self.total >= self.limits.max_connections:
            return f"the API holds its maximum of {self.limits.max_connections} connections"
        if self.per_client[client] >= self.limits.max_connections_per_client:
            return (
                f"{client} holds its maximum of {self.limits.max_connections_per_client} "
                "connections; reuse them"
            )
        self.total += 1
        self.per_client[client] += 1
        return None

    def release(self, client: str) -> None:
        self.total -= 1
        self.per_client[client] -= 1
        if self.per_client[client] <= 0:
            del self.per_client[client]


def _raw_response(status: int, reason: str, error: str, detail: str) -> bytes:
    """An answer written straight to the socket: h11 cannot answer a request it has not
    received (a refused or too slow connection has not sent one)."""
    body = json.dumps({"error": error, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedProtocol(H11Protocol):
    """What ``guarded_protocol`` makes: ``count`` is its port's, and a connection made
    ``admitted`` was counted in by whoever accepted it (the ``CappedListener``)."""

    count: ConnectionCount

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        admitted: bool = False,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.admitted = admitted


def refusal_response(reason: str) -> bytes:
    """The answer to a connection over a cap, written before any of its bytes are read."""
    return _raw_response(503, "Service Unavailable", "TooManyConnections", reason)


def guarded_protocol(limits: HttpLimits) -> type[GuardedProtocol]:
    """uvicorn's h11 protocol bound by ``limits``; one count per call (per port)."""
    count = ConnectionCount(limits)

    class GuardedH11Protocol(GuardedProtocol):
        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
            *,
            admitted: bool = False,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop, admitted=admitted)
            self._address = ""
            self._counted = False
            self._header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            peer = transport.get_extra_info("peername")
            self._address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            refusal = None if self.admitted else count.admit(self._address)
            if refusal is not None:
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(refusal_response(refusal))
                transport.close()
                return
            self._counted = True
            super().connection_made(transport)  # type: ignore[arg-type]
            self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            if not self._counted:
                return  # refused in connection_made: uvicorn never knew of it
            self._counted = False
            count.release(self._address)
            self._stop_header_deadline()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self._counted:
                return
            super().data_received(data)
            if self.transport.is_closing():
                self._stop_header_deadline()
            elif self.conn.their_state is h11.IDLE:
                # The next request has begun, or the keep-alive timer was cancelled by
                # bytes that did not finish its headers: either way they now have a deadline.
                self._await_headers()
            else:
                self._stop_header_deadline()

        def _should_upgrade(self) -> bool:
            # The API serves no WebSocket, and an upgraded connection would leave this
            # protocol (and the count) without a word: answer it as plain HTTP.
            return False

        def on_response_complete(self) -> None:
            # Between requests the keep-alive timeout applies, not the header deadline.
            self._stop_header_deadline()
            super().on_response_complete()

        def _await_headers(self) -> None:
            if self._header_deadline is None:
                self._header_deadline = self.loop.call_later(
                    limits.header_timeout_s, self._headers_too_slow
                )

        def _stop_header_deadline(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            detail = f"the request's headers did not arrive within {limits.header_timeout_s:g} s"
            self.transport.write(_raw_response(408, "Request Timeout", "RequestTimeout", detail))
            self.transport.close()

    GuardedH11Protocol.count = count
    return GuardedH11Protocol


class AcceptErrorLog:
    """An event loop exception handler: a refused ``accept()`` (out of file descriptors
    or memory) is logged at most once per ``every_s`` with how many there were; any
    other report goes to the loop's default handler."""

    def __init__(self, every_s: float = 10.0, port: str = "a port") -> None:
        self.every_s = every_s
        self.port = port  # named in the line: which listener ran out
        self.suppressed = 0
        self._last_logged = float("-inf")

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        # asyncio schedules a retry per failed accept (thousands a second); those still
        # pending when a listener closes fail on its closed socket: the same event.
        if not message.startswith(
            (
                "socket.accept() out of system",
                "Exception in callback BaseSelectorEventLoop._start_serving",
            )
        ):
            loop.default_exception_handler(context)
            return
        self.failed(context.get("exception"))

    def failed(self, exception: object) -> None:
        """One ``accept()`` refused by the system (``exception`` says why)."""
        self.suppressed += 1
        now = time.monotonic()
        if now - self._last_logged < self.every_s:
            return
        self._last_logged = now
        log.error(
            "%s could not accept %d connection(s) in the last %g s: %s; raise the file "
            "descriptor limit (ulimit -n) or lower the connection caps",
            self.port,
            self.suppressed,
            self.every_s,
            exception,
        )
        self.suppressed = 0
