"""The WebSocket connection protocol without sockets: our hand-written text frames,
fragments reassembled, text only, keepalive pings, the handshake request handed
to the listener and its deadline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from chargeledger.adapters.ocpp.admission import RateLimitedLog
from chargeledger.adapters.ocpp.connection import WebSocketConnection, _text_frame
from chargeledger.bootstrap import gateway_options
from chargeledger.config import Settings

OPTIONS = gateway_options(Settings(ping_interval_s=30, ping_timeout_s=10, handshake_timeout_s=5))


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.aborted = False
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("10.0.0.1", 50000) if name == "peername" else default

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        return None


class FakeListener:
    def __init__(self) -> None:
        self.options = OPTIONS
        self.warnings = RateLimitedLog(logging.getLogger("test.connection"))
        self.requests: list[Request] = []

    def accepted(self, connection: WebSocketConnection) -> bool:
        return True

    def closed(self, connection: WebSocketConnection) -> None:
        return None

    async def admit(self, connection: WebSocketConnection, request: Request) -> None:
        self.requests.append(request)

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        return asyncio.ensure_future(coro)


class Collecting(WebSocketConnection):
    __slots__ = ("messages",)

    def __init__(self, listener: FakeListener) -> None:
        super().__init__(listener)
        self.messages: list[str] = []

    def _on_message(self, text: str) -> None:
        self.messages.append(text)


def station() -> ClientProtocol:
    return ClientProtocol(parse_uri("ws://csms/ocpp/CP-1"), state=State.OPEN, max_size=None)


def open_connection() -> tuple[Collecting, FakeTransport, ClientProtocol]:
    """A connection past its handshake, and a client to make the station's frames."""
    connection, transport = Collecting(FakeListener()), FakeTransport()
    connection.connection_made(transport)
    connection.ws = ServerProtocol(state=State.OPEN, max_size=OPTIONS.max_frame_bytes)
    connection.live = True
    return connection, transport, station()


def frames_sent(transport: FakeTransport) -> list[Frame]:
    """What the connection wrote, as the station's parser reads it."""
    client = station()
    client.receive_data(bytes(transport.written))
    return [event for event in client.events_received() if isinstance(event, Frame)]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_our_text_frames_have_the_length_header_rfc_6455_asks(size: int) -> None:
    client = station()
    client.receive_data(_text_frame(b"x" * size))
    [frame] = client.events_received()
    assert isinstance(frame, Frame) and frame.opcode is Opcode.TEXT and frame.fin
    assert len(frame.data) == size


async def test_fragments_make_one_message_and_binary_closes_with_1003() -> None:
    connection, transport, client = open_connection()
    client.send_text(b'[2,"1",', fin=False)
    client.send_continuation(b'"Heartbeat",{}]', fin=True)
    client.send_binary(b"\x00")
    for data in client.data_to_send():
        connection.data_received(data)
    assert connection.messages == ['[2,"1","Heartbeat",{}]']
    [close] = frames_sent(transport)
    assert close.opcode is Opcode.CLOSE and close.data[:2] == (1003).to_bytes(2, "big")


async def test_invalid_utf8_closes_with_1007() -> None:
    connection, transport, client = open_connection()
    client.send_text(b"\xff\xfe")
    connection.data_received(client.data_to_send()[0])
    assert connection.messages == []
    [close] = frames_sent(transport)
    assert close.data[:2] == (1007).to_bytes(2, "big")


async def test_a_quiet_station_is_pinged_and_dropped_if_it_does_not_answer() -> None:
    connection, transport, _ = open_connection()
    start = connection.last_received
    connection.check(start + 29, OPTIONS)
    assert frames_sent(transport) == []
    connection.check(start + 30, OPTIONS)
    assert [frame.opcode for frame in frames_sent(transport)] == [Opcode.PING]
    connection.check(start + 39, OPTIONS)
    assert not transport.aborted
    connection.check(start + 40, OPTIONS)
    assert transport.aborted
    assert frames_sent(transport)[-1].data[:2] == (1011).to_bytes(2, "big")


async def test_anything_the_station_sends_answers_the_ping() -> None:
    connection, transport, client = open_connection()
    start = connection.last_received
    connection.check(start + 30, OPTIONS)
    client.send_pong(b"")
    connection.data_received(client.data_to_send()[0])
    connection.check(start + 40, OPTIONS)
    assert not transport.aborted


async def test_a_connection_that_never_sends_its_handshake_is_dropped() -> None:
    connection, transport = Collecting(FakeListener()), FakeTransport()
    connection.connection_made(transport)
    connection.check(connection.connected_at + 5, OPTIONS)
    assert not transport.aborted
    connection.check(connection.connected_at + 5.1, OPTIONS)
    assert transport.aborted


async def test_a_handshake_request_goes_to_the_listener_and_stops_the_handshake_clock() -> None:
    listener = FakeListener()
    connection, transport = Collecting(listener), FakeTransport()
    connection.connection_made(transport)
    connection.data_received(
        b"GET /ocpp/CP-1 HTTP/1.1\r\nHost: csms\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    )
    await asyncio.sleep(0)
    assert [request.path for request in listener.requests] == ["/ocpp/CP-1"]
    connection.check(connection.connected_at + 60, OPTIONS)  # the listener answers it
    assert not transport.aborted
