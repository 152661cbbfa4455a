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
import hashlib
import hmac
import http
import logging
import os
import re
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

from chargeledger.adapters.ocpp import framing, schemas
from chargeledger.adapters.ocpp.handlers import Reply, StationMessages
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.presence import LocalPresence, Presence
from chargeledger.application.registry import (
    RegisteredStation,
    StationRegistry,
    verify_password,
)
from chargeledger.application.twin_service import TwinService

log = logging.getLogger(__name__)

SUBPROTOCOLS = [Subprotocol("ocpp1.6")]
STATION_ID = re.compile(r"^[A-Za-z0-9*\-_=:+|@.]{1,48}$")
PATH = re.compile(r"^/ocpp/([^/?]+)/?(\?.*)?$")
MAX_INBOX = 16
"""Station CALLs that may wait behind one being handled (OCPP allows one at a time)."""


@dataclass(frozen=True)
class GatewayOptions:
    response_timeout_s: float = 30.0
    ping_interval_s: float = 30.0
    ping_timeout_s: float = 30.0
    max_frame_bytes: int = 64 * 1024
    handshake_timeout_s: float = 10.0
    close_timeout_s: float = 5.0
    max_queue: int = 64


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
    ) -> None:
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
        self._verified = _VerifiedPasswords()
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
        self.listening.set()
        return self._server

    async def stop(self) -> None:
        """Stop listening, say goodbye (1001) to every station, and wait briefly for them."""
        self.listening.clear()
        if self._server is not None:
            self._server.close()
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

    # -- handshake ---------------------------------------------------------------

    async def admit(self, ws: ServerProtocol, request: Request) -> tuple[Response, str | None]:
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
        refusal = await self._authenticate(ws, request, station_id)
        if refusal is not None:
            return refusal, None
        response = ws.accept(request)
        return response, station_id if response.status_code == 101 else None

    async def _authenticate(
        self, ws: ServerProtocol, request: Request, station_id: str
    ) -> Response | None:
        supplied = _basic_credentials(request.headers)
        registered = await self._known.get(station_id, self._accept_unknown)
        if registered is None and not self._accept_unknown:
            return _refuse(
                ws,
                http.HTTPStatus.NOT_FOUND,
                f"unknown station {station_id}: register it with `chargeledger stations add`",
            )
        if supplied is not None and supplied[0] != station_id:
            log.warning("station %s presented the credentials of another id", station_id)
            return _unauthorized(ws, "the HTTP Basic user must be the station id")
        if registered is None or registered.password_hash is None:
            return None
        if supplied is None:
            return _unauthorized(ws, "this station needs HTTP Basic auth (security profile 1)")
        if not await self._verified.check(station_id, supplied[1], registered.password_hash):
            log.warning("station %s presented a wrong password", station_id)
            return _unauthorized(ws, "wrong station id or password")
        return None

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
        log.info("station %s reconnected; closing its older connection", session.station_id)
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
    """One station's socket: WebSocket events in, OCPP frames routed, answers out."""

    __slots__ = (
        "_closed",
        "busy",
        "close_deadline",
        "connected_at",
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

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connected_at = self.last_received = time.monotonic()
        self.gateway._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        self.ping_sent_at = None  # anything the station sends proves it alive
        ws = self.ws
        ws.receive_data(data)
        events = ws.events_received()
        self._flush()
        if ws.close_expected():
            self._expect_close()
        for event in events:
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT or event.opcode is Opcode.BINARY:
                    if event.fin:
                        message = event.data
                        self._on_message(message if isinstance(message, bytes) else bytes(message))
                    else:
                        self._refuse_fragment()
            elif isinstance(event, Request):
                self.requested = True
                self.gateway.spawn(self._handshake(event), "ocpp-handshake")

    def eof_received(self) -> None:
        self.ws.receive_eof()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.live = False
        self.gone = True
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        self.gateway.ended(self)

    def pause_writing(self) -> None:
        # The station does not read what we send: stop reading what it sends.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

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
            response, station_id = await gateway.admit(self.ws, request)
        except Exception:
            log.exception("handshake of %s failed", request.path)
            response, station_id = _refuse(self.ws, 500, "the CSMS could not take it"), None
        if station_id is None or self.gone or self.transport is None:
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
        gateway.went_live(self, session)

    # -- frames ------------------------------------------------------------------

    def _refuse_fragment(self) -> None:
        # websockets hands us frames; OCPP messages are single frames in practice and
        # reassembling would let one message exceed the frame size we promised.
        self.send_text(
            framing.encode(
                framing.CallError(
                    framing.UNKNOWN_ID,
                    framing.FORMATION_VIOLATION,
                    "fragmented WebSocket messages are not accepted; send one frame",
                )
            )
        )

    def _on_message(self, data: bytes) -> None:
        session = self.session
        if session is None or not self.live or session.fenced:
            return  # fenced: a newer connection speaks for this station now
        self.gateway.twin.message_received(session.station_id)
        frame = framing.parse(data)
        if isinstance(frame, framing.Call):
            if self.busy:
                self._queue_call(frame)
            else:
                self._handle_call(frame)
        elif isinstance(frame, framing.FrameFault):
            log.warning("bad frame from %s: %s", session.station_id, frame.description)
            if frame.replyable:
                self.send_text(framing.encode(frame.to_call_error()))
        elif not session.answer_arrived(frame):
            log.warning(
                "dropped a %s from %s that answers no CALL of ours (id %s)",
                "CALLRESULT" if isinstance(frame, framing.CallResult) else "CALLERROR",
                session.station_id,
                frame.unique_id,
            )

    def _queue_call(self, call: framing.Call) -> None:
        if self.inbox is None:
            self.inbox = deque()
        if len(self.inbox) >= MAX_INBOX:
            self._error(
                call,
                framing.GENERIC_ERROR,
                f"{MAX_INBOX} CALLs already wait here; OCPP allows one outstanding CALL",
            )
            return
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

    def _error(self, call: framing.Call, code: str, description: str) -> None:
        self.send_text(framing.encode(framing.CallError(call.unique_id, code, description)))


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


def _basic_credentials(headers: Headers) -> tuple[str, str] | None:
    value = headers.get("Authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class _VerifiedPasswords:
    """Remembers passwords that passed scrypt, keyed to the stored hash, so that ten
    thousand stations reconnecting after a restart cost one slow hash each, not one
    per reconnect; at most two slow hashes run at once (each takes 16 MB). After a
    wrong password, that station id gets no slow hash for ``cooldown_s``, so a client
    hammering one id with wrong passwords cannot starve every other station's first
    check (say, right after a restart)."""

    def __init__(self, cooldown_s: float = 1.0) -> None:
        self._key = os.urandom(32)
        self._known: dict[str, tuple[str, bytes]] = {}
        self._slow = asyncio.Semaphore(2)
        self._cooldown_s = cooldown_s
        self._failed_at: dict[str, float] = {}

    def _mac(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode(), hashlib.sha256).digest()

    async def check(self, station_id: str, password: str, stored_hash: str) -> bool:
        known = self._known.get(station_id)
        mac = self._mac(password)
        if known is not None and known[0] == stored_hash:
            return hmac.compare_digest(mac, known[1])
        failed_at = self._failed_at.get(station_id)
        if failed_at is not None and time.monotonic() - failed_at < self._cooldown_s:
            return False
        async with self._slow:
            valid = await asyncio.to_thread(verify_password, password, stored_hash)
        if valid:
            self._known[station_id] = (stored_hash, mac)
            self._failed_at.pop(station_id, None)
        else:
            if len(self._failed_at) > 100_000:
                self._failed_at.clear()  # bounded: only a flood of ids gets here
            self._failed_at[station_id] = time.monotonic()
        return valid


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
