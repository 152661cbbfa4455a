"""The OCPP-J endpoint: a thin asyncio shell around two sans-I/O cores.

``websockets``' ``ServerProtocol`` turns bytes into WebSocket events and back;
``framing`` turns messages into OCPP frames. Each connection is one
``asyncio.Protocol``: no task per connection and none per message, so a
heartbeat is answered inside ``data_received`` and an idle station costs a few
kilobytes. One sweeper task per gateway sends keepalive pings and ends dead,
half-open and slow connections.

Order of a handshake: path and station id, registry and HTTP Basic auth, the
WebSocket upgrade checks, then takeover of an older connection of the same
station (I8), and only then the ``101`` answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import http
import logging
import math
import re
import resource
import ssl as ssl_module
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from chargeledger.adapters.metrics import NodeMetrics
from chargeledger.adapters.ocpp import connection_log, framing, schemas
from chargeledger.adapters.ocpp.admission import (
    THIS_HOST,
    ConnectionCounts,
    LoginGuard,
    LoginVerdict,
    RateLimitedLog,
    TokenBuckets,
    client_key,
)
from chargeledger.adapters.ocpp.handlers import Reply, StationMessages
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.presence import LocalPresence, Presence
from chargeledger.application.registry import RegisteredStation, StationRegistry
from chargeledger.application.twin_service import TwinService

log = logging.getLogger(__name__)

SUBPROTOCOLS = [Subprotocol("ocpp1.6")]
STATION_ID = re.compile(r"^[A-Za-z0-9*\-_=:+|@.]{1,48}$")
PATH = re.compile(r"^/ocpp/([^/?]+)/?(\?.*)?$")
MAX_WAITING_CALLS = 4
"""Station CALLs that may wait behind one being handled (OCPP allows one at a time);
with that many waiting, the rest stay unread in the socket."""
MESSAGES_PER_TURN = 16
"""Messages one connection handles before the event loop serves the others."""
PARSE_SLICE_BYTES = 16 * 1024
"""Bytes handed to the WebSocket parser at a time, so that one large read of
pipelined frames is parsed (and held parsed) a slice at a time."""


@dataclass(frozen=True)
class GatewayOptions:
    response_timeout_s: float = 30.0
    ping_interval_s: float = 30.0
    ping_timeout_s: float = 30.0
    max_frame_bytes: int = 64 * 1024
    handshake_timeout_s: float = 10.0
    close_timeout_s: float = 5.0
    max_queue: int = 64
    max_connections: int = 20_000
    """Open connections on the OCPP port (0: no cap); more are answered 503."""
    max_connections_per_address: int = 1_000
    """Open connections from one client address or IPv6 /64 (0: no cap)."""
    new_stations_per_address_per_minute: float = 60
    """In accept mode, ids never seen before that one address may bring per minute."""


class OcppGateway:
    def __init__(
        self,
        messages: StationMessages,
        twin: TwinService,
        dispatcher: Dispatcher,
        registry: StationRegistry,
        accept_unknown_stations: bool,
        options: GatewayOptions | None = None,
        presence: Presence | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self.metrics = metrics or NodeMetrics("-")
        self.messages = messages
        self.twin = twin
        self.dispatcher = dispatcher
        self._registry = registry
        self._accept_unknown = accept_unknown_stations
        self.options = options or GatewayOptions()
        self._connections: set[_Connection] = set()
        self._live: dict[str, _Connection] = {}
        self.presence: Presence = presence or LocalPresence()
        self.presence.on_fence(self.fence)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing: dict[str, set[asyncio.Task[Any]]] = {}
        self._logins = LoginGuard()
        self._counts = ConnectionCounts(
            _within_file_limit(self.options.max_connections),
            self.options.max_connections_per_address,
        )
        per_minute = self.options.new_stations_per_address_per_minute
        self._new_stations = TokenBuckets(per_minute, per_minute / 60)
        self._rate_limited_log = RateLimitedLog(log)
        self._listening_sockets: set[int] = set()
        self._refusing: set[_Connection] = set()
        self._known = _RegistrySnapshot(registry)
        self.listening = asyncio.Event()
        schemas.warm_up(schemas.STATION_ACTIONS)

    @property
    def connected_count(self) -> int:
        return len(self._live)

    def session(self, station_id: str) -> StationSession | None:
        connection = self._live.get(station_id)
        return None if connection is None else connection.session

    async def run(self, host: str, port: int, ssl: ssl_module.SSLContext | None = None) -> None:
        """Serve until cancelled (a supervised worker); close every connection on the way out."""
        await self.start(host, port, ssl)
        try:
            await self._sweep_forever()
        finally:
            await self.stop()

    async def start(
        self, host: str, port: int, ssl: ssl_module.SSLContext | None = None
    ) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self),
            host,
            port,
            ssl=ssl,
            ssl_handshake_timeout=self.options.handshake_timeout_s if ssl else None,
            backlog=4096,
            reuse_address=True,
        )
        self._listening_sockets = {sock.fileno() for sock in self._server.sockets}
        self._log_accept_errors_briefly(loop)
        self.listening.set()
        return self._server

    def _log_accept_errors_briefly(self, loop: asyncio.AbstractEventLoop) -> None:
        """Out of file descriptors, asyncio reports each failed accept on our port
        with a traceback; those become one line per interval with a count. Other
        reports go to the handler that was there before."""
        previous = loop.get_exception_handler()

        def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            sock = context.get("socket")
            if (
                str(context.get("message", "")).startswith("socket.accept() out of system")
                and sock is not None
                and sock.fileno() in self._listening_sockets
            ):
                self._rate_limited_log.warning(
                    "accept",
                    "the OCPP port cannot accept a connection: %s",
                    context.get("exception"),
                )
            elif previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(handle)

    async def stop(self) -> None:
        """Stop listening, say goodbye (1001) to every station, and wait briefly for them."""
        self.listening.clear()
        self._listening_sockets = set()
        if self._server is not None:
            self._server.close()
        for refused in list(self._refusing):
            refused.abort()
        closing = [
            connection.close_and_wait(CloseCode.GOING_AWAY, "the CSMS is shutting down")
            for connection in list(self._connections)
        ]
        await asyncio.gather(*closing, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _sweep_forever(self) -> None:
        options = self.options
        tick = max(0.02, min(1.0, options.ping_interval_s / 4, options.ping_timeout_s / 4))
        while True:
            await asyncio.sleep(tick)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        """Ping quiet connections, end dead ones and those stuck in a handshake."""
        options = self.options
        for connection in list(self._connections):
            connection.check(now, options)
        for refused in list(self._refusing):
            refused.check(now, options)

    # -- handshake ---------------------------------------------------------------

    async def admit(
        self, ws: ServerProtocol, request: Request, address: str = ""
    ) -> tuple[Response, str | None]:
        """The handshake answer: a refusal, or the 101 (not yet sent) and the station id."""
        match = PATH.match(request.path)
        if match is None:
            return _refuse(ws, http.HTTPStatus.NOT_FOUND, "connect to /ocpp/{station_id}"), None
        station_id = unquote(match.group(1))
        if not STATION_ID.match(station_id):
            return _refuse(
                ws,
                http.HTTPStatus.BAD_REQUEST,
                "the station id must be 1-48 characters of A-Z a-z 0-9 * - _ = : + | @ .",
            ), None
        refusal = await self._authenticate(ws, request, station_id, address)
        if refusal is not None:
            return refusal, None
        response = ws.accept(request)
        return response, station_id if response.status_code == 101 else None

    async def _authenticate(
        self, ws: ServerProtocol, request: Request, station_id: str, address: str
    ) -> Response | None:
        try:
            supplied = _basic_credentials(request.headers)
        except ValueError as error:
            return _refuse(ws, http.HTTPStatus.BAD_REQUEST, str(error))
        registered = await self._known.get(station_id, self._accept_unknown)
        if registered is None and not self._accept_unknown:
            return _refuse(
                ws,
                http.HTTPStatus.NOT_FOUND,
                f"unknown station {station_id}: register it with `chargeledger stations add`",
            )
        if supplied is not None and supplied[0] != station_id:
            self._rate_limited_log.warning(
                "foreign-credentials",
                "station %s presented the credentials of another id",
                station_id,
            )
            return _unauthorized(ws, "the HTTP Basic user must be the station id")
        if registered is None:
            return self._admit_unknown(ws, station_id, address)
        if registered.password_hash is None:
            return None
        if supplied is None:
            return _unauthorized(ws, "this station needs HTTP Basic auth (security profile 1)")
        verdict = await self._logins.check(
            station_id, address, supplied[1], registered.password_hash
        )
        if verdict is LoginVerdict.THROTTLED:
            self._rate_limited_log.warning(
                "throttled-login",
                "station %s: too many failed logins (last from %s); answered 429",
                station_id,
                address,
            )
            return _too_many(
                ws,
                "too many failed logins for this station from this address; retry later",
                self._logins.retry_after_s(station_id, address),
            )
        if verdict is LoginVerdict.REFUSED:
            self._rate_limited_log.warning(
                "wrong-password",
                "station %s presented a wrong password (from %s)",
                station_id,
                address,
            )
            return _unauthorized(ws, "wrong station id or password")
        return None

    def _admit_unknown(self, ws: ServerProtocol, station_id: str, address: str) -> Response | None:
        """Accept mode: an id never seen before becomes a record for good, so one client
        address may bring only so many per minute; ids already known pass freely."""
        if self.twin.get(station_id) is not None:
            return None
        key = client_key(address)
        if key in THIS_HOST or self._new_stations.take(key, time.monotonic()):
            return None
        self._rate_limited_log.warning(
            "new-stations",
            "refused unknown station %s: %s brought too many new station ids this minute",
            station_id,
            key,
        )
        return _too_many(
            ws,
            "this address connected too many new station ids in the last minute; retry later",
            self._new_stations.retry_after_s(key, time.monotonic()),
        )

    # -- takeover (I8) -----------------------------------------------------------

    async def take_over(self, connection: _Connection, session: StationSession) -> None:
        """The newer connection wins: the older is fenced at once, closed in its own
        task, and the newer goes on only once the older has fully closed (or was
        aborted after the close timeout: a dead socket never locks a station out)."""
        older = self._live.get(session.station_id)
        self._live[session.station_id] = connection
        if older is None or older.session is None:
            return
        older.session.hand_over_to(session)
        self.dispatcher.station_gone(older.session)
        log.info(
            "station reconnected; closing its older connection (taken over)",
            extra={"station": session.station_id, "client": connection.client},
        )
        closing = self._closing.setdefault(session.station_id, set())
        task = self.spawn(
            older.close_and_wait(CloseCode.NORMAL_CLOSURE, "superseded by a newer connection"),
            name=f"close-older-{session.station_id}",
        )
        closing.add(task)
        task.add_done_callback(lambda done: self._closed_one(session.station_id, done))
        # Every older connection of this station, not only the last, must be gone.
        await asyncio.shield(asyncio.gather(*closing, return_exceptions=True))

    def _closed_one(self, station_id: str, task: asyncio.Task[Any]) -> None:
        closing = self._closing.get(station_id)
        if closing is not None:
            closing.discard(task)
            if not closing:
                del self._closing[station_id]

    def went_live(self, connection: _Connection, session: StationSession) -> None:
        self.twin.connected(session.station_id, session.epoch, connection.ws.subprotocol)
        session.start_sending()
        if session.registered:  # took over a connection whose boot was accepted
            self.spawn(self.dispatcher.station_ready(session), f"ready-{session.station_id}")
        else:
            self.spawn(self.messages.resume(session), f"resume-{session.station_id}")

    def ended(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        session = connection.session
        connection_log.ended(self.metrics, session.station_id if session else None, connection)
        if session is None:
            return
        session.connection_closed()
        self.dispatcher.station_gone(session)
        if self._live.get(session.station_id) is connection:
            del self._live[session.station_id]
        # Unconditional: the twin ignores a close from a connection older than the one
        # it knows, and a newer connection that gave up must not leave it "connected".
        self.twin.disconnected(session.station_id, session.epoch)
        self.presence.released(session.station_id, session.epoch)

    def held_here(self) -> dict[str, int]:
        """The stations connected here and their connections' epochs."""
        return {sid: c.session.epoch for sid, c in self._live.items() if c.session is not None}

    def fence(self, station_id: str, epoch: int) -> None:
        """Another node took the station at ``epoch``: a connection of it here with a
        lower epoch stops acting at once and is closed in its own task (I8)."""
        connection = self._live.get(station_id)
        session = None if connection is None else connection.session
        if connection is None or session is None or session.epoch >= epoch:
            return
        del self._live[station_id]
        connection.live = False  # its frames are no longer handled
        session.connection_closed()
        self.dispatcher.station_gone(session)
        log.info("station %s connected to another node; closing it here", station_id)
        self.spawn(
            connection.close_and_wait(
                CloseCode.NORMAL_CLOSURE, "superseded by a newer connection elsewhere"
            ),
            name=f"close-fenced-{station_id}",
        )

    def drop_all(self, reason: str) -> None:
        """Close every station's connection (this node lost its lease: their epochs
        are no longer theirs); they reconnect with new ones."""
        for station_id in list(self._live):
            self.fence(station_id, 1 << 62)
        log.warning("dropped every station connection: %s", reason)


class _Connection(asyncio.Protocol):
    """One station's socket: WebSocket events in, OCPP frames routed, answers out.

    Bytes are parsed a slice at a time and at most ``MESSAGES_PER_TURN`` messages
    are handled per turn of the event loop; while anything read is not yet handled
    (or ``MAX_WAITING_CALLS`` CALLs wait behind a slow one, or the station does not
    read our answers), reading from the socket is paused. A station pipelining
    thousands of frames thus holds at most one read of them in memory and shares
    the loop with every other station: its excess waits in its own socket."""

    __slots__ = (
        "_closed",
        "_fragments",
        "_frames",
        "_reading_paused",
        "_turn_scheduled",
        "_unparsed",
        "_writing_paused",
        "address",
        "busy",
        "call_sent_at",
        "client",
        "close_deadline",
        "connected_at",
        "counted",
        "gateway",
        "gone",
        "inbox",
        "last_received",
        "live",
        "ping_sent_at",
        "requested",
        "session",
        "transport",
        "ws",
    )

    def __init__(self, gateway: OcppGateway) -> None:
        self.gateway = gateway
        self.ws = ServerProtocol(
            subprotocols=SUBPROTOCOLS, max_size=gateway.options.max_frame_bytes
        )
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self.counted = False
        self.session: StationSession | None = None
        self.live = False
        self.gone = False
        self.requested = False
        self.busy = False
        self.inbox: deque[framing.Call] | None = None
        self.connected_at = 0.0
        self.last_received = 0.0
        self.ping_sent_at: float | None = None
        self.close_deadline: float | None = None
        self._closed: asyncio.Future[None] | None = None
        self.client = "?"
        self.call_sent_at = 0.0
        self._unparsed = b""
        self._frames: deque[Frame] = deque()
        self._fragments: list[bytes] | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._turn_scheduled = False

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connected_at = self.last_received = time.monotonic()
        self.client = connection_log.peer(transport)
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        too_many = self.gateway._counts.open(self.address)
        if too_many is None:
            self.counted = True
            self.gateway._connections.add(self)
        else:
            self._refuse_at_once(too_many)

    def _refuse_at_once(self, reason: str) -> None:
        """Over a connection cap: a 503 without reading the request, then close. The
        write side is shut first so that a request still arriving does not turn our
        answer into a reset; the sweeper cuts the socket soon after."""
        self.gateway._rate_limited_log.warning(
            "connection-cap", "refused an OCPP connection: %s", reason
        )
        assert self.transport is not None
        refusing = self.gateway._refusing
        if len(refusing) >= REFUSALS_IN_FLIGHT:
            self.transport.abort()
            return
        refusing.add(self)
        body = f"{reason}; retry later\n".encode()
        self.transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Retry-After: 10\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.close_deadline = time.monotonic() + min(0.5, self.gateway.options.close_timeout_s)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self.counted:
            return  # refused at once: nothing it sends is read
        self.last_received = time.monotonic()
        self.ping_sent_at = None  # anything the station sends proves it alive
        self._unparsed = self._unparsed + data if self._unparsed else data
        self._work()

    def eof_received(self) -> bool | None:
        if not self.counted:
            return None  # close
        while self._unparsed:
            self._parse_slice()  # the parser takes no bytes after the end of the stream
        self.ws.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.live = False
        self.gone = True
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        if self.counted:
            self.counted = False
            self.gateway._counts.closed(self.address)
            self.gateway.ended(self)
        else:
            self.gateway._refusing.discard(self)

    def pause_writing(self) -> None:
        # The station does not read what we send: read and handle nothing more of it.
        self._writing_paused = True
        self._pace_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._work()

    # -- reading, a fair share at a time -----------------------------------------

    def _work(self) -> None:
        """Handle up to ``MESSAGES_PER_TURN`` messages; come back next turn for more."""
        self._turn_scheduled = False
        budget = MESSAGES_PER_TURN
        while budget and not self._writing_paused:
            if self._frames:
                self._on_frame(self._frames.popleft())
                budget -= 1
            elif self._unparsed and not self._backlogged():
                self._parse_slice()
            else:
                break
        if self._can_go_on() and not self._turn_scheduled:
            self._turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._work)
        self._pace_reading()

    def _backlogged(self) -> bool:
        return self.inbox is not None and len(self.inbox) >= MAX_WAITING_CALLS

    def _can_go_on(self) -> bool:
        if self._writing_paused:
            return False
        return bool(self._frames) or (bool(self._unparsed) and not self._backlogged())

    def _pace_reading(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        pause = self._writing_paused or bool(self._frames) or bool(self._unparsed)
        if pause and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        elif not pause and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()

    def _parse_slice(self) -> None:
        data = self._unparsed
        if len(data) > PARSE_SLICE_BYTES:
            data, self._unparsed = data[:PARSE_SLICE_BYTES], data[PARSE_SLICE_BYTES:]
        else:
            self._unparsed = b""
        ws = self.ws
        ws.receive_data(data)
        events = ws.events_received()
        self._flush()
        if ws.close_expected():
            self._expect_close()
        for event in events:
            if isinstance(event, Frame):
                if event.opcode in _DATA_OPCODES:
                    self._frames.append(event)
            elif isinstance(event, Request):
                self.requested = True
                self.gateway.spawn(self._handshake(event), "ocpp-handshake")

    # -- writing and closing -----------------------------------------------------

    def _flush(self) -> None:
        transport = self.transport
        if transport is None:
            return
        for data in self.ws.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():
                transport.write_eof()
            else:
                transport.close()

    def send_text(self, text: str) -> None:
        transport = self.transport
        if self.ws.state is not State.OPEN or transport is None or transport.is_closing():
            return  # closing: the station gets nothing more on this connection
        if text.startswith("[2,"):
            self.call_sent_at = time.monotonic()  # our CALL: its answer's round trip
        if self.session is not None:
            connection_log.frame("->", self.session.station_id, self.client, text)
        if self.ws.writes:
            self._flush()  # what the protocol queued (a pong) goes first
        transport.write(_text_frame(framing.to_wire(text)))

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake; the sweeper aborts it after the close timeout."""
        if self.transport is None or self.transport.is_closing():
            return
        if self.ws.state is State.OPEN:
            self.ws.send_close(code, reason)
            self._flush()
            self._expect_close()
        elif self.ws.state is State.CONNECTING:
            self.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def close_and_wait(self, code: int, reason: str) -> None:
        """Close in this connection's own task and return once it is fully closed."""
        loop = asyncio.get_running_loop()
        if self._closed is None:
            self._closed = loop.create_future()
            if self.gone:
                self._closed.set_result(None)
        self.close(code, reason)
        try:
            await asyncio.wait_for(
                asyncio.shield(self._closed), self.gateway.options.close_timeout_s
            )
        except TimeoutError:
            log.warning("an older connection did not close in time; aborting it")
            self.abort()
            await self._closed

    def _expect_close(self) -> None:
        if self.close_deadline is None:
            self.close_deadline = time.monotonic() + self.gateway.options.close_timeout_s

    def check(self, now: float, options: GatewayOptions) -> None:
        """Called by the sweeper: keepalive, handshake and close deadlines."""
        if self.close_deadline is not None:
            if now >= self.close_deadline:
                self.abort()
            return
        if not self.live:
            if not self.requested and now - self.connected_at > options.handshake_timeout_s:
                log.info(
                    "a handshake did not complete in %g s; dropped", options.handshake_timeout_s
                )
                self.abort()
            return
        if self._frames or self._unparsed:
            return  # it sent more than we have read yet: alive, and we are the slow one
        if self.ping_sent_at is None:
            if now - self.last_received >= options.ping_interval_s:
                self.ping_sent_at = now
                self.ws.send_ping(b"")
                self._flush()
        elif now - self.ping_sent_at >= options.ping_timeout_s:
            station = self.session.station_id if self.session else "?"
            log.warning(
                "station %s did not answer a ping in %g s; dropped",
                station,
                now - self.ping_sent_at,
            )
            self.ws.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
            self._flush()
            self.abort()

    # -- handshake ---------------------------------------------------------------

    async def _handshake(self, request: Request) -> None:
        gateway = self.gateway
        try:
            response, station_id = await gateway.admit(self.ws, request, self.address)
        except Exception:
            log.exception("handshake of %s failed", request.path)
            response, station_id = _refuse(self.ws, 500, "the CSMS could not take it"), None
        if station_id is None or self.gone or self.transport is None:
            connection_log.refused(gateway.metrics, self.client, request, response)
            self.ws.send_response(response)
            self._flush()
            self._expect_close()
            return
        try:
            claim = await gateway.presence.claim(station_id)
        except Exception:
            log.exception("could not register the connection of %s", station_id)
            self.ws.send_response(_refuse(self.ws, 503, "the CSMS cannot take it now; retry"))
            self._flush()
            self._expect_close()
            return
        if self.gone:
            gateway.presence.released(station_id, claim.epoch)
            return
        session = StationSession(
            station_id,
            claim.epoch,
            self.send_text,
            gateway.options.response_timeout_s,
            gateway.options.max_queue,
        )
        self.session = session
        await gateway.take_over(self, session)
        await gateway.presence.handed_over(claim, gateway.options.close_timeout_s + 1.0)
        if session.fenced or self.gone:
            self.abort()  # a newer one came meanwhile, or this station left
            return
        self.ws.send_response(response)
        self._flush()
        self.live = True
        connection_log.opened(
            gateway.metrics,
            station_id,
            self.client,
            request,
            self.transport.get_extra_info("sslcontext") is not None,
        )
        gateway.went_live(self, session)

    # -- frames ------------------------------------------------------------------

    def _on_frame(self, frame: Frame) -> None:
        """Reassemble fragmented messages (RFC 6455, 5.4); their total size is bounded
        by the parser's ``max_size``, which closes with 1009 past the frame limit."""
        if self.ws.state is not State.OPEN:
            return
        if frame.opcode is Opcode.BINARY:
            self._fail(CloseCode.UNSUPPORTED_DATA, "OCPP-J messages are text frames")
            return
        if frame.opcode is Opcode.TEXT:
            if frame.fin:
                self._on_text(bytes(frame.data))
                return
            self._fragments = [bytes(frame.data)]
            return
        if self._fragments is None:
            return  # the parser lets no continuation through without a start
        self._fragments.append(bytes(frame.data))
        if frame.fin:
            message, self._fragments = b"".join(self._fragments), None
            self._on_text(message)

    def _on_text(self, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            self._fail(CloseCode.INVALID_DATA, f"invalid UTF-8 at byte {error.start}")
            return
        self._on_message(text)

    def _fail(self, code: CloseCode, reason: str) -> None:
        """Close for a fault of the WebSocket layer; nothing more of it is read."""
        self.gateway._rate_limited_log.warning(
            f"close-{int(code)}",
            "closed the connection of %s with %d: %s",
            self.session.station_id if self.session else "?",
            int(code),
            reason,
        )
        self.ws.fail(code, reason)
        self._flush()
        self._expect_close()
        self._frames.clear()
        self._fragments = None
        self._unparsed = b""

    def _on_message(self, text: str) -> None:
        session = self.session
        if session is None or not self.live or session.fenced:
            return  # fenced: a newer connection speaks for this station now
        self.gateway.twin.message_received(session.station_id)
        connection_log.frame("<-", session.station_id, self.client, text)
        connection_log.bind(session.station_id, self.client)
        frame = framing.parse(text)
        if isinstance(frame, framing.Call):
            if self.busy:
                self._queue_call(frame)
            else:
                self._handle_call(frame)
        elif isinstance(frame, framing.FrameFault):
            log.warning("bad frame from %s: %s", session.station_id, frame.description)
            if frame.replyable:
                self.send_text(framing.encode(frame.to_call_error()))
        elif (action := session.outstanding_action) and session.answer_arrived(frame):
            connection_log.answered(self.gateway.metrics, action, frame, self.call_sent_at)
        else:
            log.warning(
                "dropped a %s from %s that answers no CALL of ours (id %s)",
                "CALLRESULT" if isinstance(frame, framing.CallResult) else "CALLERROR",
                session.station_id,
                frame.unique_id,
            )

    def _queue_call(self, call: framing.Call) -> None:
        # Bounded without refusing anything: with MAX_WAITING_CALLS waiting no more
        # bytes are parsed, so at most those of one slice join them.
        if self.inbox is None:
            self.inbox = deque()
        self.inbox.append(call)

    def _handle_call(self, call: framing.Call) -> None:
        session = self.session
        assert session is not None
        handler = self.gateway.messages.handlers.get(call.action)
        if handler is None:
            if call.action in schemas.STATION_ACTIONS or schemas.known_action(call.action):
                self._error(call, framing.NOT_SUPPORTED, f"{call.action} is not served here")
            else:
                self._error(
                    call, framing.NOT_IMPLEMENTED, f"{call.action} is not an OCPP 1.6 action"
                )
            return
        try:
            schemas.check(call.action, call.payload)
        except schemas.PayloadError as error:
            self._error(call, error.code, error.description)
            return
        try:
            result = handler(session, call.payload)
        except Exception:
            log.exception("handling %s from %s failed", call.action, session.station_id)
            self._error(call, framing.INTERNAL_ERROR, "the CSMS could not handle it")
            return
        if isinstance(result, Reply):
            self._reply(call, result)
        else:
            self.busy = True
            self.gateway.spawn(self._finish(call, result), f"ocpp-{call.action}")

    async def _finish(self, call: framing.Call, pending: Awaitable[Reply]) -> None:
        try:
            reply = await pending
        except Exception:
            log.exception("handling %s failed", call.action)
            self.busy = False
            self._error(call, framing.INTERNAL_ERROR, "the CSMS could not handle it")
        else:
            self.busy = False
            self._reply(call, reply)  # busy again while its follow-up runs
        self._drain_inbox()

    def _reply(self, call: framing.Call, reply: Reply) -> None:
        session = self.session
        assert session is not None
        if session.fenced:
            return
        try:
            schemas.check(f"{call.action}Response", reply.payload)
        except schemas.PayloadError as error:
            log.error("our answer to %s broke its schema: %s", call.action, error.description)
            self._error(call, framing.INTERNAL_ERROR, "the CSMS could not handle it")
            return
        self.send_text(framing.encode(framing.CallResult(call.unique_id, reply.payload)))
        connection_log.station_call(self.gateway.metrics, call.action, "result")
        if reply.after is not None and self.live:
            self.busy = True
            self.gateway.spawn(self._after(reply), f"ocpp-after-{call.action}")

    async def _after(self, reply: Reply) -> None:
        assert reply.after is not None
        try:
            await reply.after()
        except Exception:
            log.exception(
                "follow-up of an answer to %s failed", self.session and self.session.station_id
            )
        self.busy = False
        self._drain_inbox()

    def _drain_inbox(self) -> None:
        while self.inbox and not self.busy and self.live:
            self._handle_call(self.inbox.popleft())
        if not self._turn_scheduled and not self.gone:
            self._work()  # read on, now that the waiting CALLs are fewer

    def _error(self, call: framing.Call, code: str, description: str) -> None:
        connection_log.station_call(self.gateway.metrics, call.action, "error")
        self.send_text(framing.encode(framing.CallErrorFrame(call.unique_id, code, description)))


_DATA_OPCODES = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})


def _text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked server text frame (RFC 6455, 5.2). We write our
    frames ourselves: websockets' general path costs more than the OCPP work of a
    heartbeat, and we never fragment, compress or send after our close frame."""
    length = len(payload)
    if length < 126:
        return bytes((0x81, length)) + payload
    if length < 65536:
        return b"\x81\x7e" + length.to_bytes(2, "big") + payload
    return b"\x81\x7f" + length.to_bytes(8, "big") + payload


def _refuse(ws: ServerProtocol, status: int, text: str) -> Response:
    return ws.reject(status, text + "\n")


def _unauthorized(ws: ServerProtocol, text: str) -> Response:
    response = _refuse(ws, http.HTTPStatus.UNAUTHORIZED, text)
    response.headers["WWW-Authenticate"] = 'Basic realm="chargeledger", charset="UTF-8"'
    return response


FILES_KEPT_FREE = 1024
"""File descriptors the OCPP cap leaves for the API, the store and the logs (half
the limit when the process may open fewer than twice as many)."""
REFUSALS_IN_FLIGHT = 64
"""Connections over the cap that get a polite 503 at once; past that many still
being closed, one more is cut without an answer, so a flood holds no descriptors."""


def _within_file_limit(max_connections: int) -> int:
    """The cap, lowered to leave ``FILES_KEPT_FREE`` descriptors of the process limit:
    past it, accepting fails for every port and for the store alike."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return max_connections
    if soft == resource.RLIM_INFINITY:
        return max_connections
    room = soft - min(FILES_KEPT_FREE, soft // 2) - REFUSALS_IN_FLIGHT
    if max_connections == 0 or max_connections > room:
        log.info("OCPP connections capped at %d: the process may open %d files", room, soft)
        return room
    return max_connections


def _too_many(ws: ServerProtocol, text: str, retry_after_s: float) -> Response:
    response = _refuse(ws, http.HTTPStatus.TOO_MANY_REQUESTS, text)
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return response


def _basic_credentials(headers: Headers) -> tuple[str, str] | None:
    """The HTTP Basic user and password, ``None`` without Basic credentials; a
    ``ValueError`` saying what is wrong for two headers or unreadable credentials."""
    values = headers.get_all("Authorization")
    if len(values) > 1:
        raise ValueError("send one Authorization header, not several")
    if not values or not values[0].lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(values[0][6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("the HTTP Basic credentials are not base64 of UTF-8") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise ValueError("the HTTP Basic credentials must be station_id:password")
    return user, password


class _RegistrySnapshot:
    """The station registry as of at most ``max_age_s`` ago, read in one query and
    shared by every handshake meanwhile: ten thousand stations reconnecting after a
    restart cost a few registry reads, not ten thousand. A station missing from the
    snapshot is looked up directly when unknown stations are refused, so one added a
    moment ago is not turned away; a changed password applies within ``max_age_s``."""

    def __init__(self, registry: StationRegistry, max_age_s: float = 2.0) -> None:
        self._registry = registry
        self._max_age_s = max_age_s
        self._stations: dict[str, RegisteredStation] = {}
        self._taken_at = -float("inf")
        self._refresh: asyncio.Task[None] | None = None

    async def get(self, station_id: str, misses_are_cheap: bool) -> RegisteredStation | None:
        if time.monotonic() - self._taken_at > self._max_age_s:
            if self._refresh is None or self._refresh.done():
                self._refresh = asyncio.ensure_future(self._take())
            await asyncio.shield(self._refresh)
        found = self._stations.get(station_id)
        if found is None and not misses_are_cheap:
            found = await self._registry.get(station_id)
        return found

    async def _take(self) -> None:
        taken_at = time.monotonic()
        self._stations = {s.station_id: s for s in await self._registry.list()}
        self._taken_at = taken_at
