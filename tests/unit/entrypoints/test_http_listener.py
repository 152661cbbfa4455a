"""The API port's own accept (issue 10, item 4): a connection over a cap is answered
and closed before the next is accepted, so a flood holds no descriptors beyond the
cap; out of descriptors, accepting pauses and says so once."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Iterator

import pytest

from chargeledger.adapters import capped_listener
from chargeledger.adapters.capped_listener import CappedListener, listening_sockets
from chargeledger.entrypoints.http_connections import (
    ConnectionCount,
    HttpLimits,
    refusal_response,
)


class Quiet(asyncio.Protocol):
    pass


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def port_socket() -> Iterator[socket.socket]:
    (sock,) = listening_sockets("127.0.0.1", 0, 512)
    yield sock
    sock.close()


async def test_a_burst_over_the_cap_is_refused_within_the_wake_that_accepts_it(
    port_socket: socket.socket,
) -> None:
    count = ConnectionCount(HttpLimits(10, 4, 4))
    failures: list[OSError] = []
    listener = CappedListener([port_socket], Quiet, count, refusal_response, failures.append)
    port = port_socket.getsockname()[1]
    # 60 connections wait in the kernel's queue: the loop does not run in between
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
    try:
        before = open_descriptors()
        listener._accept(port_socket)  # one wake: asyncio kept all 60 open for two more
        assert open_descriptors() - before == 4  # the admitted ones, nothing else
        assert count.total == 4
        for client in clients[4:]:
            client.settimeout(2)
            assert client.recv(4096).startswith(b"HTTP/1.1 503 Service Unavailable")
        assert failures == []
    finally:
        for client in clients:
            client.close()
        listener.close()
        await listener.wait_closed()


async def test_an_admitted_connection_is_served_and_frees_its_place_when_lost(
    port_socket: socket.socket,
) -> None:
    count = ConnectionCount(HttpLimits(10, 1, 1))
    lost = asyncio.Event()

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            assert isinstance(self.transport, asyncio.WriteTransport)
            self.transport.write(data)

        def connection_lost(self, exc: Exception | None) -> None:
            count.release("127.0.0.1")
            lost.set()

    listener = CappedListener([port_socket], Echo, count, refusal_response, lambda _: None)
    await listener.start_serving()
    try:
        port = port_socket.getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        refused_reader, refused_writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await asyncio.wait_for(refused_reader.read(), 5)).startswith(b"HTTP/1.1 503")
        refused_writer.close()
        writer.close()
        await asyncio.wait_for(lost.wait(), 5)
        assert count.total == 0
    finally:
        listener.close()
        await listener.wait_closed()


class OutOfDescriptors:
    """A listening socket whose every accept fails as at ``ulimit -n``."""

    def __init__(self, real: socket.socket) -> None:
        self.real = real
        self.accepts = 0

    def fileno(self) -> int:
        return self.real.fileno()

    def accept(self) -> tuple[socket.socket, object]:
        self.accepts += 1
        raise OSError(errno.EMFILE, "Too many open files")


async def test_out_of_descriptors_accepting_pauses_and_resumes(
    port_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capped_listener, "RETRY_AFTER_S", 0.2)
    failures: list[OSError] = []
    count = ConnectionCount(HttpLimits(10, 4, 4))
    listener = CappedListener([port_socket], Quiet, count, refusal_response, failures.append)
    failing = OutOfDescriptors(port_socket)
    loop = asyncio.get_running_loop()
    client = socket.create_connection(("127.0.0.1", port_socket.getsockname()[1]))
    try:
        listener._serving = True
        loop.add_reader(port_socket.fileno(), listener._accept, failing)
        await asyncio.sleep(0.1)  # readable all along: a busy loop without the pause
        assert failing.accepts == 1 and len(failures) == 1
        assert failures[0].errno == errno.EMFILE
        await asyncio.sleep(0.2)  # the retry, failing again
        assert failing.accepts == 2
    finally:
        client.close()
        listener.close()
