"""A station that writes WebSocket frames itself: fragments, binary frames and
invalid UTF-8 that a well-behaved client library would never send. The frames
are built and read with ``websockets``' sans-I/O client protocol."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri


class RawStation:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, protocol: ClientProtocol
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = protocol
        self._events: list[Any] = []

    @classmethod
    async def connect(cls, ocpp_url: str, station_id: str, local_host: str = "127.0.0.1") -> Any:
        uri = parse_uri(f"{ocpp_url}/{station_id}")
        reader, writer = await asyncio.open_connection(
            uri.host, uri.port, local_addr=(local_host, 0)
        )
        protocol = ClientProtocol(uri, subprotocols=[Subprotocol("ocpp1.6")])
        station = cls(reader, writer, protocol)
        protocol.send_request(protocol.connect())
        station._write_pending()
        response = await station._next_event(5.0)
        assert isinstance(response, Response) and response.status_code == 101, response
        return station

    def send(self, frame: Frame) -> None:
        """Write one frame as it is (masked, as a client must)."""
        self.writer.write(frame.serialize(mask=True, extensions=[]))

    def send_text(self, text: str) -> None:
        self.send(Frame(Opcode.TEXT, text.encode()))

    async def receive_text(self, timeout: float = 5.0) -> str:
        event = await self._next_event(timeout)
        while isinstance(event, Frame) and event.opcode in (Opcode.PING, Opcode.PONG):
            event = await self._next_event(timeout)
        assert isinstance(event, Frame) and event.opcode is Opcode.TEXT, event
        return bytes(event.data).decode()

    async def closed_with(self, timeout: float = 5.0) -> int:
        """The close code the server sent (skipping any data frames before it)."""
        while True:
            event = await self._next_event(timeout)
            if isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                return Close.parse(bytes(event.data)).code

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 2)

    async def _next_event(self, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._events:
            data = await asyncio.wait_for(self.reader.read(65536), deadline - loop.time())
            if not data:
                self.protocol.receive_eof()
            else:
                self.protocol.receive_data(data)
            self._events.extend(self.protocol.events_received())
            self._write_pending()
            if not data and not self._events:
                raise ConnectionError("the server closed the connection without a frame")
        return self._events.pop(0)

    def _write_pending(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)
