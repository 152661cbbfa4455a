"""The handshake's answer, before any WebSocket is open: the path and station id, the
registry and HTTP Basic auth (security profile 1), the budget of new station ids in
accept mode, and the WebSocket upgrade checks (the ``ocpp2.0.1`` or ``ocpp1.6``
subprotocol; 2.0.1 when a station offers both, as OCPP-J 2.0.1 §3 asks). The
result is a refusal, or a ``101`` not yet sent: the listener sends it once the
station's older connection is gone (takeover, I8).

Whether a station missing from the registry may connect (``unknown_stations``)
is decided here and nowhere else in the gateway.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import http
import math
import re
import time
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from chargeledger.adapters.ocpp.admission import (
    THIS_HOST,
    LoginGuard,
    LoginVerdict,
    RateLimitedLog,
    TokenBuckets,
    client_key,
)
from chargeledger.adapters.ocpp.schemas import OCPP16, OCPP201
from chargeledger.application.ports import StationPresence
from chargeledger.application.registry import (
    RegisteredStation,
    RegistryError,
    StationRegistry,
    check_station_id,
)
from chargeledger.domain.enums import UnknownStations

SUBPROTOCOLS = [Subprotocol(OCPP201), Subprotocol(OCPP16)]
"""In the order the server prefers them: websockets picks the first one offered."""
PATH = re.compile(r"^/ocpp/([^/?]+)/?(\?.*)?$")


class Handshake:
    """Answers each handshake request; one per gateway (it holds the login and new
    station budgets, and the registry snapshot every handshake shares)."""

    def __init__(
        self,
        registry: StationRegistry,
        stations: StationPresence,
        unknown_stations: UnknownStations,
        new_stations_per_address_per_minute: float,
        warnings: RateLimitedLog,
    ) -> None:
        self._known = _RegistrySnapshot(registry)
        self._stations = stations
        self._accept_unknown = unknown_stations == UnknownStations.ACCEPT
        self._logins = LoginGuard()
        per_minute = new_stations_per_address_per_minute
        self._new_stations = TokenBuckets(per_minute, per_minute / 60)
        self._warnings = warnings

    async def answer(
        self, ws: ServerProtocol, request: Request, address: str = ""
    ) -> tuple[Response, str | None]:
        """A refusal, or the 101 (not yet sent) and the station id."""
        match = PATH.match(request.path)
        if match is None:
            return refuse(ws, http.HTTPStatus.NOT_FOUND, "connect to /ocpp/{station_id}"), None
        station_id = unquote(match.group(1))
        try:  # the registry's own rule: "." and ".." would become stations no URL names
            check_station_id(station_id)
        except RegistryError as invalid:
            return refuse(ws, http.HTTPStatus.BAD_REQUEST, str(invalid)), None
        refusal = await self._authenticate(ws, request, station_id, address)
        if refusal is not None:
            return refusal, None
        response = ws.accept(request)
        return response, station_id if response.status_code == 101 else None

    async def _authenticate(
        self, ws: ServerProtocol, request: Request, station_id: str, address: str
    ) -> Response | None:
        try:
            supplied = basic_credentials(request.headers)
        except ValueError as error:
            return refuse(ws, http.HTTPStatus.BAD_REQUEST, str(error))
        registered = await self._known.get(station_id, self._accept_unknown)
        if registered is None and not self._accept_unknown:
            return refuse(
                ws,
                http.HTTPStatus.NOT_FOUND,
                f"unknown station {station_id}: register it with `chargeledger stations add`",
            )
        if supplied is not None and supplied[0] != station_id:
            self._warnings.warning(
                "foreign-credentials",
                "station %s presented the credentials of another id",
                station_id,
            )
            return unauthorized(ws, "the HTTP Basic user must be the station id")
        if registered is None:
            return self._admit_unknown(ws, station_id, address)
        if registered.password_hash is None:
            return None
        if supplied is None:
            return unauthorized(ws, "this station needs HTTP Basic auth (security profile 1)")
        verdict = await self._logins.check(
            station_id, address, supplied[1], registered.password_hash
        )
        if verdict is LoginVerdict.THROTTLED:
            self._warnings.warning(
                "throttled-login",
                "station %s: too many failed logins (last from %s); answered 429",
                station_id,
                address,
            )
            return too_many(
                ws,
                "too many failed logins for this station from this address; retry later",
                self._logins.retry_after_s(station_id, address),
            )
        if verdict is LoginVerdict.REFUSED:
            self._warnings.warning(
                "wrong-password",
                "station %s presented a wrong password (from %s)",
                station_id,
                address,
            )
            return unauthorized(ws, "wrong station id or password")
        return None

    def _admit_unknown(self, ws: ServerProtocol, station_id: str, address: str) -> Response | None:
        """Accept mode: an id never seen before becomes a record for good, so one client
        address may bring only so many per minute; ids already known pass freely."""
        if self._stations.is_known(station_id):
            return None
        key = client_key(address)
        if key in THIS_HOST or self._new_stations.take(key, time.monotonic()):
            return None
        self._warnings.warning(
            "new-stations",
            "refused unknown station %s: %s brought too many new station ids this minute",
            station_id,
            key,
        )
        return too_many(
            ws,
            "this address connected too many new station ids in the last minute; retry later",
            self._new_stations.retry_after_s(key, time.monotonic()),
        )


def refuse(ws: ServerProtocol, status: int, text: str) -> Response:
    return ws.reject(status, text + "\n")


def unauthorized(ws: ServerProtocol, text: str) -> Response:
    response = refuse(ws, http.HTTPStatus.UNAUTHORIZED, text)
    response.headers["WWW-Authenticate"] = 'Basic realm="chargeledger", charset="UTF-8"'
    return response


def too_many(ws: ServerProtocol, text: str, retry_after_s: float) -> Response:
    response = refuse(ws, http.HTTPStatus.TOO_MANY_REQUESTS, text)
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return response


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
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
