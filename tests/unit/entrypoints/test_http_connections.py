"""The API's connections (issue 10, item 4): a header deadline, caps per port and per
client address, and accept errors logged once per interval. On a real uvicorn server
on 127.0.0.1 with the guarded protocol, and real sockets as clients."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from chargeledger.entrypoints.http_connections import (
    AcceptErrorLog,
    ConnectionCount,
    HttpLimits,
    default_http_connection_cap,
    guarded_protocol,
)
from chargeledger.entrypoints.http_listener import CappedServer
from tests.conftest import free_port


async def hello(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello"})


@contextlib.asynccontextmanager
async def served(
    limits: HttpLimits, keep_alive_s: int = 5, capped: bool = False
) -> AsyncIterator[int]:
    """uvicorn's own accept, or (``capped``) the node's ``CappedServer``."""
    port = free_port()
    config = uvicorn.Config(
        hello,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        http=guarded_protocol(limits),
        timeout_keep_alive=keep_alive_s,
    )
    server = CappedServer(config, lambda _: None) if capped else uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def connect(port: int, source: str = "127.0.0.1") -> tuple[Any, Any]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def answer(reader: asyncio.StreamReader, within_s: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.read(), within_s)


ACCEPT_FAILED = "socket.accept() out of system resource"  # what asyncio reports
GET = b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"


async def test_headers_sent_a_byte_at_a_time_are_cut_off_at_the_deadline() -> None:
    loop = asyncio.get_running_loop()
    async with served(HttpLimits(0.5, 100, 100)) as port:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setblocking(False)
            started = time.monotonic()
            received = b""
            for byte in GET[:-2]:  # never quite finishes its headers
                try:
                    await loop.sock_sendall(sock, bytes([byte]))
                except ConnectionError:
                    break
                with contextlib.suppress(TimeoutError):
                    received += await asyncio.wait_for(loop.sock_recv(sock, 4096), 0.05)
                if received or time.monotonic() - started > 3:
                    break
            assert received.startswith(b"HTTP/1.1 408 Request Timeout")
            assert b'"error": "RequestTimeout"' in received
            assert time.monotonic() - started < 2.0


async def test_a_connection_that_never_speaks_is_closed_at_the_deadline() -> None:
    async with served(HttpLimits(0.3, 100, 100)) as port:
        reader, writer = await connect(port)
        started = time.monotonic()
        await answer(reader)
        assert time.monotonic() - started < 2.0
        writer.close()


async def test_a_prompt_request_is_answered_and_keep_alive_holds_it_open() -> None:
    async with served(HttpLimits(0.3, 100, 100)) as port:
        reader, writer = await connect(port)
        for _ in range(2):
            writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"hello"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            await asyncio.sleep(0.5)  # idle past the header deadline: keep-alive rules here
        writer.close()


@pytest.mark.parametrize("capped", [False, True], ids=["uvicorn-accept", "capped-listener"])
async def test_connections_beyond_a_clients_cap_are_refused_with_503_at_once(
    capped: bool,
) -> None:
    async with served(HttpLimits(10, 6, 3), capped=capped) as port:
        held = [await connect(port) for _ in range(3)]
        reader, writer = await connect(port)
        started = time.monotonic()
        refused = await answer(reader)
        assert refused.startswith(b"HTTP/1.1 503 Service Unavailable")
        assert b"TooManyConnections" in refused and b"127.0.0.1" in refused
        assert time.monotonic() - started < 1.0
        # Another address still gets in, up to the port's cap.
        other = [await connect(port, "127.0.0.2") for _ in range(3)]
        other[0][1].write(GET)
        assert (await answer(other[0][0])).startswith(b"HTTP/1.1 200")
        third_reader, third_writer = await connect(port, "127.0.0.3")
        third_reader2, third_writer2 = await connect(port, "127.0.0.3")
        refused = await answer(third_reader2)
        assert b"the API holds its maximum of 6 connections" in refused
        # Room again once one is closed.
        for _, w in held:
            w.close()
        await asyncio.sleep(0.2)
        reader, writer = await connect(port)
        writer.write(GET)
        assert (await answer(reader)).startswith(b"HTTP/1.1 200")
        for _, w in [*other, (third_reader, third_writer), (third_reader2, third_writer2)]:
            w.close()


async def test_a_second_request_that_stalls_in_its_headers_is_cut_off_too() -> None:
    async with served(HttpLimits(0.5, 100, 100), keep_alive_s=30) as port:
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"hello"), 5)
        writer.write(b"GET / HTTP/1.1\r\nhost:")  # and no more
        started = time.monotonic()
        assert (await answer(reader)).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 2.0
        writer.close()


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout() -> None:
    async with served(HttpLimits(10, 100, 100), keep_alive_s=1) as port:
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"hello"), 5)
        started = time.monotonic()
        assert await answer(reader) == b""  # closed, without a word
        assert 0.8 < time.monotonic() - started < 3.0
        writer.close()


async def test_upgrade_requests_are_answered_as_http_and_free_their_place() -> None:
    upgrade = (
        b"GET / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n"
        b"sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    async with served(HttpLimits(10, 2, 2)) as port:
        for _ in range(5):  # more than the cap, one after another
            reader, writer = await connect(port)
            writer.write(upgrade)
            assert (await asyncio.wait_for(reader.readuntil(b"hello"), 5)).startswith(
                b"HTTP/1.1 200"
            )
            writer.close()
            await writer.wait_closed()
            await asyncio.sleep(0.05)


def test_a_count_admits_up_to_each_cap_and_frees_on_release() -> None:
    count = ConnectionCount(HttpLimits(1.0, 3, 2))
    assert count.admit("a") is None and count.admit("a") is None
    assert "a holds its maximum of 2" in (count.admit("a") or "")
    assert count.admit("b") is None
    assert "maximum of 3" in (count.admit("c") or "")
    count.release("a")
    assert count.admit("c") is None
    assert count.total == 3 and dict(count.per_client) == {"a": 1, "b": 1, "c": 1}


def test_the_default_cap_leaves_three_quarters_of_the_descriptors() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = default_http_connection_cap()
    assert 16 <= cap <= 1024
    assert cap <= max(16, soft // 4)


async def test_accept_errors_are_logged_once_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    handler = AcceptErrorLog(every_s=60)
    emfile = OSError(errno.EMFILE, "Too many open files")
    with caplog.at_level(logging.ERROR):
        for _ in range(5000):
            handler(
                loop, {"message": "socket.accept() out of system resource", "exception": emfile}
            )
    lines = [r for r in caplog.records if "could not accept" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].exc_info is None  # a line, not a traceback
    assert handler.suppressed == 4999
    handler._last_logged -= 61  # an interval later the count is reported
    with caplog.at_level(logging.ERROR):
        handler(loop, {"message": ACCEPT_FAILED, "exception": emfile})
    assert "could not accept 5000 connection(s)" in caplog.records[-1].getMessage()
