"""The OCPP-J endpoint on ``websockets``: handshake checks, takeover, the frame loop.

This is the thin asyncio shell around the sans-I/O ``framing`` core.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import http
import itertools
import logging
import re
import time
from typing import Any
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from chargeledger.adapters.ocpp import framing, schemas
from chargeledger.adapters.ocpp.handlers import StationMessages
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.registry import StationRegistry, verify_password
from chargeledger.application.twin_service import TwinService

log = logging.getLogger(__name__)

SUBPROTOCOLS = ["ocpp1.6"]
STATION_ID = re.compile(r"^[A-Za-z0-9*\-_=:+|@.]{1,48}$")
PATH = re.compile(r"^/ocpp/([^/?]+)/?(\?.*)?$")

# Station-initiated actions of OCPP 1.6 that we know but do not serve: NotSupported.
# Any action without a 1.6 schema at all is NotImplemented.


class OcppGateway:
    def __init__(
        self,
        messages: StationMessages,
        twin: TwinService,
        dispatcher: Dispatcher,
        registry: StationRegistry,
        accept_unknown_stations: bool,
        response_timeout_s: float = 30.0,
        ping_interval_s: float = 30.0,
        ping_timeout_s: float = 30.0,
        max_frame_bytes: int = 64 * 1024,
        handshake_timeout_s: float = 10.0,
    ) -> None:
        self._messages = messages
        self._twin = twin
        self._dispatcher = dispatcher
        self._registry = registry
        self._accept_unknown = accept_unknown_stations
        self._response_timeout_s = response_timeout_s
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._max_frame_bytes = max_frame_bytes
        self._handshake_timeout_s = handshake_timeout_s
        self._sessions: dict[str, StationSession] = {}
        self._epochs = itertools.count(time.time_ns() // 1000)
        self._server: Server | None = None
        self._closers: set[asyncio.Task[None]] = set()

    @property
    def connected_count(self) -> int:
        return len(self._sessions)

    def session(self, station_id: str) -> StationSession | None:
        return self._sessions.get(station_id)

    async def start(self, host: str, port: int, ssl: Any = None) -> Server:
        self._server = await serve(
            self._serve_connection,
            host,
            port,
            subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
            process_request=self._check_handshake,
            compression=None,
            ping_interval=self._ping_interval_s,
            ping_timeout=self._ping_timeout_s,
            max_size=self._max_frame_bytes,
            open_timeout=self._handshake_timeout_s,
            ssl=ssl,
        )
        return self._server

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _check_handshake(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        match = PATH.match(request.path)
        if match is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "connect to /ocpp/{station_id}\n")
        station_id = unquote(match.group(1))
        if not STATION_ID.match(station_id):
            return connection.respond(
                http.HTTPStatus.BAD_REQUEST,
                "station id: 1-48 characters of A-Z a-z 0-9 * - _ = : + | @ .\n",
            )
        registered = await self._registry.get(station_id)
        if registered is None:
            if not self._accept_unknown:
                return connection.respond(
                    http.HTTPStatus.NOT_FOUND, f"unknown station {station_id}\n"
                )
            return None
        if registered.password_hash is not None:
            supplied = _basic_credentials(request.headers)
            if supplied is None:
                response = connection.respond(
                    http.HTTPStatus.UNAUTHORIZED, "this station needs HTTP Basic auth\n"
                )
                response.headers["WWW-Authenticate"] = 'Basic realm="chargeledger"'
                return response
            user, password = supplied
            valid = user == station_id and await asyncio.to_thread(
                verify_password, password, registered.password_hash
            )
            if not valid:
                return connection.respond(
                    http.HTTPStatus.UNAUTHORIZED, "wrong station id or password\n"
                )
        return None

    async def _serve_connection(self, ws: ServerConnection) -> None:
        match = PATH.match(ws.request.path if ws.request else "")
        assert match is not None  # checked at the handshake
        station_id = unquote(match.group(1))
        session = StationSession(
            station_id,
            next(self._epochs),
            ws.send,
            lambda: ws.close(code=1000, reason="superseded by a newer connection"),
            self._response_timeout_s,
        )
        await self._take_over(session)
        self._twin.connected(station_id, session.epoch)
        try:
            await self._read_frames(ws, session)
        except ConnectionClosed:
            pass
        finally:
            session.connection_closed()
            self._dispatcher.station_gone(session)
            if self._sessions.get(station_id) is session:
                del self._sessions[station_id]
                self._twin.disconnected(station_id, session.epoch)

    async def _take_over(self, session: StationSession) -> None:
        """The newer connection wins (I8): the older is fenced at once, closed in its own
        task, and the newer goes on only once the older has fully closed."""
        older = self._sessions.get(session.station_id)
        self._sessions[session.station_id] = session
        if older is None:
            return
        older.superseded = True
        self._dispatcher.station_gone(older)
        log.info("station %s reconnected; closing its older connection", session.station_id)
        closer = asyncio.create_task(older.close(), name=f"close-older-{older.station_id}")
        self._closers.add(closer)
        closer.add_done_callback(self._closers.discard)
        try:
            await asyncio.wait_for(older.closed.wait(), timeout=10.0)
        except TimeoutError:
            log.warning("older connection of %s did not close in time", session.station_id)

    async def _read_frames(self, ws: ServerConnection, session: StationSession) -> None:
        async for message in ws:
            await self._on_message(ws, session, message)

    async def _on_message(
        self, ws: ServerConnection, session: StationSession, message: str | bytes
    ) -> None:
        frame = framing.parse(message)
        if isinstance(frame, framing.FrameFault):
            log.warning("bad frame from %s: %s", session.station_id, frame.description)
            if frame.replyable:
                await ws.send(framing.encode(frame.to_call_error()))
            return
        if isinstance(frame, framing.CallResult | framing.CallError):
            if not session.answer_arrived(frame):
                log.warning(
                    "dropped an answer we did not ask for from %s (id %s)",
                    session.station_id,
                    frame.unique_id,
                )
            return
        await self._answer_call(ws, session, frame)

    async def _answer_call(
        self, ws: ServerConnection, session: StationSession, call: framing.Call
    ) -> None:
        if session.superseded:
            return  # fenced: a newer connection speaks for this station now
        handler = self._messages.handlers.get(call.action)
        if handler is None:
            code = "NotSupported" if schemas.known_action(call.action) else "NotImplemented"
            await ws.send(
                framing.encode(
                    framing.CallError(call.unique_id, code, f"{call.action} is not served here")
                )
            )
            return
        try:
            schemas.check(call.action, call.payload)
        except schemas.PayloadError as error:
            await ws.send(
                framing.encode(framing.CallError(call.unique_id, error.code, error.description))
            )
            return
        try:
            reply = await handler(session, call.payload)
        except Exception:
            log.exception("handling %s from %s failed", call.action, session.station_id)
            await ws.send(
                framing.encode(
                    framing.CallError(
                        call.unique_id, "InternalError", "the CSMS could not handle it"
                    )
                )
            )
            return
        await ws.send(framing.encode(framing.CallResult(call.unique_id, reply.payload)))
        if reply.after is not None:
            await reply.after()


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
