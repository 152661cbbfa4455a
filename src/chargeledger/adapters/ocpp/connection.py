"""One station's socket as an ``asyncio.Protocol`` around ``websockets``' sans-I/O
``ServerProtocol``: bytes in, WebSocket messages out (RFC 6455: fragments
reassembled, text only, strict UTF-8), our text frames written directly, keepalive
pings, the closing handshake and its deadline, and reading paced so that one
station cannot hold the loop or the memory. What a message means is ``routing``'s
business; who may connect is ``handshake``'s; the listener (``gateway``) counts
connections, runs the handshake and sweeps deadlines through ``check``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable
from typing import Any, Protocol

from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from chargeledger.adapters.ocpp import connection_log, framing
from chargeledger.adapters.ocpp.admission import RateLimitedLog
from chargeledger.adapters.ocpp.handshake import SUBPROTOCOLS
from chargeledger.adapters.ocpp.options import LOGGER_NAME, GatewayOptions
from chargeledger.adapters.ocpp.session import StationSession

log = logging.getLogger(LOGGER_NAME)

MESSAGES_PER_TURN = 16
"""Messages one connection handles before the event loop serves the others."""
PARSE_SLICE_BYTES = 16 * 1024
"""Bytes handed to the WebSocket parser at a time, so that one large read of
pipelined frames is parsed (and held parsed) a slice at a time."""

_DATA_OPCODES = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})


class Listener(Protocol):
    """What a connection needs from the listener that accepted it."""

    options: GatewayOptions
    warnings: RateLimitedLog

    def accepted(self, connection: WebSocketConnection) -> bool:
        """Count a new connection; one over a cap is refused at once (and not read)."""
        ...

    def closed(self, connection: WebSocketConnection) -> None:
        """The socket closed (``counted`` still says whether it was accepted)."""
        ...

    def admit(self, connection: WebSocketConnection, request: Request) -> Awaitable[None]:
        """Answer the handshake request and, if admitted, make the connection live."""
        ...

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]: ...


class WebSocketConnection(asyncio.Protocol):
    """Bytes are parsed a slice at a time and at most ``MESSAGES_PER_TURN`` messages
    are handled per turn of the event loop; while anything read is not yet handled
    (or ``_backlogged``, or the station does not read our answers), reading from the
    socket is paused. A station pipelining thousands of frames thus holds at most
    one read of them in memory and shares the loop with every other station: its
    excess waits in its own socket. Subclasses handle each text message."""

    __slots__ = (
        "_closed",
        "_fragments",
        "_frames",
        "_reading_paused",
        "_turn_scheduled",
        "_unparsed",
        "_writing_paused",
        "address",
        "call_sent_at",
        "client",
        "close_deadline",
        "connected_at",
        "counted",
        "gone",
        "last_received",
        "listener",
        "live",
        "ping_sent_at",
        "requested",
        "session",
        "transport",
        "ws",
    )

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.ws = ServerProtocol(
            subprotocols=SUBPROTOCOLS, max_size=listener.options.max_frame_bytes
        )
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self.counted = False
        self.session: StationSession | None = None
        """The station this connection speaks for, once its handshake is admitted."""
        self.live = False
        self.gone = False
        self.requested = False
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

    def _on_message(self, text: str) -> None:
        raise NotImplementedError

    def _backlogged(self) -> bool:
        """Whether enough messages wait to be handled that no more are parsed."""
        return False

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connected_at = self.last_received = time.monotonic()
        self.client = connection_log.peer(transport)
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self.counted = self.listener.accepted(self)

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
        self.listener.closed(self)
        self.counted = False

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

    def _read_on(self) -> None:
        """Messages that held up reading were handled: read on, unless a turn is due."""
        if not self._turn_scheduled and not self.gone:
            self._work()

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
                self.listener.spawn(self.listener.admit(self, event), "ocpp-handshake")

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
        self.listener.warnings.warning(
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

    # -- the handshake's answer --------------------------------------------------

    def refuse(self, response: Response) -> None:
        """Send a refusal of the handshake; the station has the close timeout to go."""
        self.ws.send_response(response)
        self._flush()
        self._expect_close()

    def accept(self, response: Response) -> None:
        """Send the ``101``: from now on the station's messages are handled."""
        self.ws.send_response(response)
        self._flush()
        self.live = True

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
                asyncio.shield(self._closed), self.listener.options.close_timeout_s
            )
        except TimeoutError:
            log.warning("an older connection did not close in time; aborting it")
            self.abort()
            await self._closed

    def _expect_close(self) -> None:
        if self.close_deadline is None:
            self.close_deadline = time.monotonic() + self.listener.options.close_timeout_s

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
