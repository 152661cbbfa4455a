"""Listening sockets accepted from here rather than by asyncio's server.

asyncio accepts up to a listen backlog of connections per wake and hands each to its
protocol two wakes later; a connection over the cap is refused there and its socket
closed a wake after that. Under a flood each wake found a full backlog, so the
refused connections still open outnumbered the admitted ones: a hundred and more
descriptors beyond the cap, and at ``ulimit -n`` 256 the node ran out ("Too many
open files"). ``CappedListener`` counts each connection as it is accepted: one over
a cap is answered (503) and closed before the next ``accept()``, so a port never
holds more descriptors than its cap (plus the one being refused); one within the
caps goes to its protocol already counted. The API and the OCPP port both use it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl as ssl_module
from collections.abc import Callable
from typing import Protocol


class Admission(Protocol):
    """The connections a port holds: ``admit`` counts one in or says why not."""

    def admit(self, address: str) -> str | None: ...

    def release(self, address: str) -> None: ...


log = logging.getLogger(__name__)

ACCEPTS_PER_WAKE = 64
"""Connections accepted (or refused) in one go before the loop serves the others."""
RETRY_AFTER_S = 1.0
"""Out of descriptors (or memory), accepting pauses this long, as asyncio's does."""
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def listening_sockets(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Bound and listening, one per address ``host`` resolves to (as asyncio's
    ``create_server`` makes them: address reuse, IPv6 sockets IPv6 only)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class CappedListener(asyncio.AbstractServer):
    """Accepts on ``sockets``: ``count`` admits each connection as it is accepted;
    a refused one gets ``refusal(reason)`` written at once and is closed, an admitted
    one is served by ``admitted_protocol()``, which must release its place in
    ``count`` when the connection is lost. ``accept_failed`` hears of each failed
    ``accept()`` (out of descriptors, say); it should log sparingly."""

    def __init__(
        self,
        sockets: list[socket.socket],
        admitted_protocol: Callable[[], asyncio.Protocol],
        count: Admission,
        refusal: Callable[[str], bytes],
        accept_failed: Callable[[OSError], None],
        ssl: ssl_module.SSLContext | None = None,
        ssl_handshake_timeout: float | None = None,
    ) -> None:
        self.sockets = sockets
        for sock in sockets:
            sock.setblocking(False)
        self._admitted_protocol = admitted_protocol
        self._count = count
        self._refusal = refusal
        self._accept_failed = accept_failed
        self._ssl = ssl
        self._ssl_handshake_timeout = ssl_handshake_timeout
        self._loop = asyncio.get_running_loop()
        self._handing_over: set[asyncio.Task[object]] = set()
        self._retries: list[asyncio.TimerHandle] = []
        self._serving = False

    # -- asyncio.AbstractServer ------------------------------------------------------

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        if self._serving:
            return
        self._serving = True
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    async def serve_forever(self) -> None:
        await self.start_serving()
        await asyncio.Future()  # until cancelled

    def close(self) -> None:
        """Stop accepting; the connections already admitted are their protocols' to end."""
        if not self.sockets:
            return
        self._serving = False
        for retry in self._retries:
            retry.cancel()
        for sock in self.sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self.sockets = []

    async def wait_closed(self) -> None:
        if self._handing_over:
            await asyncio.gather(*self._handing_over, return_exceptions=True)

    # -- accepting -------------------------------------------------------------------

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                conn, peer = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # gone before we took it
            except OSError as exc:
                if exc.errno not in OUT_OF_RESOURCES:
                    raise
                self._accept_failed(exc)
                self._pause(sock)
                return
            address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            reason = self._count.admit(address)
            if reason is None:
                self._hand_over(conn, address)
            else:
                self._refuse(conn, reason)

    def _refuse(self, conn: socket.socket, reason: str) -> None:
        """The answer goes into the empty send buffer of a fresh socket in one call; a
        client that sent its request first may see a reset instead, as before."""
        conn.setblocking(False)
        try:
            if self._ssl is None:  # over TLS the answer would be noise: just close
                conn.send(self._refusal(reason))
        except OSError:
            pass  # gone already: nothing to say
        finally:
            conn.close()

    def _hand_over(self, conn: socket.socket, address: str) -> None:
        task = self._loop.create_task(
            self._loop.connect_accepted_socket(
                self._admitted_protocol,
                conn,
                ssl=self._ssl,
                ssl_handshake_timeout=self._ssl_handshake_timeout,
            )
        )
        self._handing_over.add(task)

        def done(task: asyncio.Task[object]) -> None:
            self._handing_over.discard(task)
            if task.cancelled():
                return  # the loop is shutting down
            failure = task.exception()
            if failure is not None:
                # Making the transport failed, so its protocol never started (a plain
                # socket's transport cannot fail later): free the place here.
                log.debug("could not serve a connection from %s: %r", address, failure)
                conn.close()
                self._count.release(address)

        task.add_done_callback(done)

    def _pause(self, sock: socket.socket) -> None:
        self._loop.remove_reader(sock.fileno())

        def resume() -> None:
            self._retries.remove(retry)
            if self._serving and sock.fileno() != -1:
                self._loop.add_reader(sock.fileno(), self._accept, sock)

        retry = self._loop.call_later(RETRY_AFTER_S, resume)
        self._retries.append(retry)
