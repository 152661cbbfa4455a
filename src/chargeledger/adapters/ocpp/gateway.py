"""The OCPP-J endpoint: the listener, its table of live stations, and takeover (I8).

The gateway is a thin asyncio shell around two sans-I/O cores: ``websockets``'
``ServerProtocol`` turns bytes into WebSocket events and back, ``framing`` turns
messages into OCPP frames. Each connection is one ``asyncio.Protocol``
(``connection``: the WebSocket protocol; ``routing``: what its messages mean): no
task per connection and none per message, so a heartbeat is answered inside
``data_received`` and an idle station costs a few kilobytes. One sweeper task per
gateway sends keepalive pings and ends dead, half-open and slow connections.

Order of a handshake: path and station id, registry and HTTP Basic auth, the
WebSocket upgrade checks (``handshake``), then takeover of an older connection of
the same station (here), and only then the ``101`` answer. The rest of the node
hears of connections through the ``StationPresence`` port.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.frames import CloseCode
from websockets.http11 import Request

from chargeledger.adapters.capped_listener import CappedListener, listening_sockets
from chargeledger.adapters.metrics import NodeMetrics
from chargeledger.adapters.ocpp import connection_log, schemas
from chargeledger.adapters.ocpp.admission import ConnectionCounts, RateLimitedLog
from chargeledger.adapters.ocpp.connection import WebSocketConnection
from chargeledger.adapters.ocpp.handlers import StationMessages
from chargeledger.adapters.ocpp.handshake import Handshake, refuse
from chargeledger.adapters.ocpp.options import LOGGER_NAME, GatewayOptions
from chargeledger.adapters.ocpp.routing import StationConnection
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.ports import StationPresence
from chargeledger.application.presence import Presence
from chargeledger.application.registry import StationRegistry
from chargeledger.domain.enums import UnknownStations
from chargeledger.errors import TooFewFilesError

__all__ = ["GatewayOptions", "OcppGateway", "connection_room"]

log = logging.getLogger(LOGGER_NAME)

FILES_KEPT_FREE = 1024
"""File descriptors the OCPP cap leaves for the API, the store and the logs (half
the limit when the process may open fewer than twice as many)."""
HEADROOM = 64
"""Descriptors kept beyond the cap for what the node opens while it is full (the
listener closes each refused connection before the next accept, so refusals need one);
an eighth of the limit when that is less, so that a small limit still leaves room."""
MIN_CONNECTIONS = 16
"""The smallest cap ``connection_room`` gives: below it the node would refuse every
station, which is a configuration error to say at start rather than a silent cap."""


class _Admission:
    """The gateway's ``ConnectionCounts`` as the listener's ``Admission``; ``refused``
    hears each refusal."""

    def __init__(self, counts: ConnectionCounts, refused: Callable[[str], None]) -> None:
        self._counts = counts
        self._refused = refused

    def admit(self, address: str) -> str | None:
        reason = self._counts.open(address)
        if reason is not None:
            self._refused(reason)
        return reason

    def release(self, address: str) -> None:
        self._counts.closed(address)


def _refusal(reason: str) -> bytes:
    body = f"{reason}; retry later\n".encode()
    return (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Retry-After: 10\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


class OcppGateway:
    def __init__(
        self,
        messages: StationMessages,
        stations: StationPresence,
        registry: StationRegistry,
        unknown_stations: UnknownStations,
        options: GatewayOptions,
        presence: Presence,
        metrics: NodeMetrics,
    ) -> None:
        self.metrics = metrics
        self.messages = messages
        self.stations = stations
        self.options = options
        self._connections: set[WebSocketConnection] = set()
        self._live: dict[str, WebSocketConnection] = {}
        self.presence = presence
        self.presence.on_fence(self.fence)
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing: dict[str, set[asyncio.Task[Any]]] = {}
        self._counts = ConnectionCounts(
            _within_file_limit(self.options.max_connections),
            self.options.max_connections_per_address,
        )
        self.warnings = RateLimitedLog(log)
        self._handshake = Handshake(
            registry,
            stations,
            unknown_stations,
            self.options.new_stations_per_address_per_minute,
            self.warnings,
        )
        self.listening = asyncio.Event()
        schemas.warm_up(schemas.STATION_ACTIONS)
        schemas.warm_up(schemas.STATION_ACTIONS_201, schemas.OCPP201)

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
    ) -> asyncio.AbstractServer:
        """Listen on ``port``: a ``CappedListener`` counts each connection as it accepts
        it and refuses (503, then closes) one over a cap before the next ``accept()``,
        so a flood holds no descriptors beyond the cap."""
        listener = CappedListener(
            listening_sockets(host, port, backlog=4096),
            lambda: StationConnection(self),
            _Admission(self._counts, self.refused),
            _refusal,
            lambda exc: self._accept_failed(port, exc),
            ssl=ssl,
            ssl_handshake_timeout=self.options.handshake_timeout_s if ssl else None,
        )
        await listener.start_serving()
        self._server = listener
        self.listening.set()
        return listener

    def _accept_failed(self, port: int, exc: OSError) -> None:
        self.warnings.warning(
            "accept", "the OCPP port %d cannot accept a connection: %s", port, exc
        )

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

    # -- connections (the ``Listener`` of each) -------------------------------------

    def accepted(self, connection: WebSocketConnection) -> bool:
        """Already counted by the listener when it accepted the socket."""
        self._connections.add(connection)
        return True

    def refused(self, reason: str) -> None:
        self.warnings.warning("connection-cap", "refused an OCPP connection: %s", reason)

    def closed(self, connection: WebSocketConnection) -> None:
        if not connection.counted:
            return
        self._counts.closed(connection.address)
        self._connections.discard(connection)
        session = connection.session
        connection_log.ended(self.metrics, session.station_id if session else None, connection)
        if session is None:
            return
        session.connection_closed()
        if self._live.get(session.station_id) is connection:
            del self._live[session.station_id]
        self.stations.disconnected(session)
        self.presence.released(session.station_id, session.epoch)

    async def admit(self, connection: WebSocketConnection, request: Request) -> None:
        """Answer the handshake; once admitted, claim the station, take over its older
        connection, and only then send the 101 and go live."""
        try:
            response, station_id = await self._handshake.answer(
                connection.ws, request, connection.address
            )
        except Exception:
            log.exception("handshake of %s failed", request.path)
            response, station_id = refuse(connection.ws, 500, "the CSMS could not take it"), None
        if station_id is None or connection.gone or connection.transport is None:
            connection_log.refused(self.metrics, connection.client, request, response)
            connection.refuse(response)
            return
        try:
            claim = await self.presence.claim(station_id)
        except Exception:
            log.exception("could not register the connection of %s", station_id)
            connection.refuse(refuse(connection.ws, 503, "the CSMS cannot take it now; retry"))
            return
        if connection.gone:
            self.presence.released(station_id, claim.epoch)
            return
        options = self.options
        session = StationSession(
            station_id,
            claim.epoch,
            connection.send_text,
            options.response_timeout_s,
            options.max_queue,
            connection.ws.subprotocol or schemas.OCPP16,
        )
        connection.session = session
        await self.take_over(connection, session)
        await self.presence.handed_over(claim, options.close_timeout_s + 1.0)
        if session.fenced or connection.gone:
            connection.abort()  # a newer one came meanwhile, or this station left
            return
        connection.accept(response)
        tls = connection.transport.get_extra_info("sslcontext") is not None
        connection_log.opened(
            self.metrics, station_id, connection.client, request, tls, session.protocol
        )
        self._went_live(connection, session)

    # -- takeover (I8) -----------------------------------------------------------

    async def take_over(self, connection: WebSocketConnection, session: StationSession) -> None:
        """The newer connection wins: the older is fenced at once, closed in its own
        task, and the newer goes on only once the older has fully closed (or was
        aborted after the close timeout: a dead socket never locks a station out)."""
        older = self._live.get(session.station_id)
        self._live[session.station_id] = connection
        if older is None or older.session is None:
            return
        older.session.hand_over_to(session)
        self.stations.superseded(older.session)
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

    def _went_live(self, connection: WebSocketConnection, session: StationSession) -> None:
        self.stations.connected(session, connection.ws.subprotocol)
        session.start_sending()
        if session.registered:  # took over a connection whose boot was accepted
            self.spawn(self.stations.ready(session), f"ready-{session.station_id}")
        else:
            self.spawn(self.messages.resume(session), f"resume-{session.station_id}")

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
        self.stations.superseded(session)
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


def _within_file_limit(max_connections: int) -> int:
    """The cap, lowered to leave ``FILES_KEPT_FREE`` descriptors of the process limit:
    past it, accepting fails for every port and for the store alike."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return max_connections
    if soft == resource.RLIM_INFINITY:
        return max_connections
    room = connection_room(soft)
    if max_connections == 0 or max_connections > room:
        log.info("OCPP connections capped at %d: the process may open %d files", room, soft)
        return room
    return max_connections


def connection_room(files: int) -> int:
    """The OCPP connections a process that may open ``files`` files holds at most;
    raises ``TooFewFilesError`` when that is fewer than ``MIN_CONNECTIONS``."""
    room = files - min(FILES_KEPT_FREE, files // 2) - min(HEADROOM, files // 8)
    if room < MIN_CONNECTIONS:
        raise TooFewFilesError(
            f"the process may open only {files} files: too few for the OCPP port "
            f"(at least {MIN_CONNECTIONS} connections); raise ulimit -n"
        )
    return room
