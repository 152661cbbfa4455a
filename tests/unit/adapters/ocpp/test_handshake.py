"""The handshake's answer without sockets: path and station id, the registry, HTTP
Basic auth, the budget of new ids in accept mode, and the subprotocol."""

from __future__ import annotations

import base64
import logging

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.adapters.ocpp.admission import RateLimitedLog
from chargeledger.adapters.ocpp.handshake import SUBPROTOCOLS, Handshake, basic_credentials
from chargeledger.application.ports import StationLink
from chargeledger.application.registry import StationRegistry
from chargeledger.domain.enums import UnknownStations


class KnownStations:
    """A ``StationPresence`` that knows a fixed set of stations and ignores the rest."""

    def __init__(self, *known: str) -> None:
        self.known = set(known)

    def is_known(self, station_id: str) -> bool:
        return station_id in self.known

    def connected(self, link: StationLink, protocol: str | None) -> None: ...

    async def ready(self, link: StationLink) -> None: ...

    def message_received(self, station_id: str) -> None: ...

    def superseded(self, link: StationLink) -> None: ...

    def disconnected(self, link: StationLink) -> None: ...


def basic(value: str) -> str:
    return "Basic " + base64.b64encode(value.encode()).decode()


def upgrade(path: str, subprotocol: str = "ocpp1.6", authorization: str | None = None) -> Request:
    headers = Headers(
        Host="csms.example",
        Upgrade="websocket",
        Connection="Upgrade",
        **{"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"},
    )
    headers["Sec-WebSocket-Protocol"] = subprotocol
    if authorization is not None:
        headers["Authorization"] = authorization
    return Request(path, headers)


async def answer(
    handshake: Handshake, request: Request, address: str = "10.0.0.1"
) -> tuple[Response, str | None]:
    return await handshake.answer(ServerProtocol(subprotocols=SUBPROTOCOLS), request, address)


async def handshake_with(
    accept_unknown: bool, *known: str, per_minute: float = 60, password: str | None = None
) -> Handshake:
    registry = StationRegistry(InMemoryDocumentStore())
    await registry.add("CP-1", password, "2026-01-01T00:00:00Z")
    return Handshake(
        registry,
        KnownStations(*known),
        UnknownStations.ACCEPT if accept_unknown else UnknownStations.REJECT,
        per_minute,
        RateLimitedLog(logging.getLogger("test.handshake")),
    )


async def test_a_registered_station_gets_the_101_with_the_ocpp_subprotocol() -> None:
    handshake = await handshake_with(accept_unknown=False)
    response, station_id = await answer(handshake, upgrade("/ocpp/CP-1"))
    assert (response.status_code, station_id) == (101, "CP-1")
    assert response.headers["Sec-WebSocket-Protocol"] == "ocpp1.6"


async def test_a_wrong_path_or_station_id_is_refused_with_what_to_do() -> None:
    handshake = await handshake_with(accept_unknown=True)
    response, station_id = await answer(handshake, upgrade("/other/CP-1"))
    assert (response.status_code, station_id) == (404, None)
    assert b"/ocpp/{station_id}" in response.body
    response, station_id = await answer(handshake, upgrade("/ocpp/CP%201"))
    assert (response.status_code, station_id) == (400, None)


async def test_a_station_without_a_subprotocol_we_speak_gets_no_101() -> None:
    handshake = await handshake_with(accept_unknown=False)
    response, station_id = await answer(handshake, upgrade("/ocpp/CP-1", subprotocol="ocpp2.1"))
    assert response.status_code != 101 and station_id is None


async def test_refusing_unknown_stations_answers_404_naming_the_command_to_register() -> None:
    handshake = await handshake_with(accept_unknown=False)
    response, station_id = await answer(handshake, upgrade("/ocpp/CP-2"))
    assert (response.status_code, station_id) == (404, None)
    assert b"chargeledger stations add" in response.body


async def test_a_station_with_a_password_must_present_it_as_its_own_id() -> None:
    handshake = await handshake_with(accept_unknown=False, password="s3cret")
    response, _ = await answer(handshake, upgrade("/ocpp/CP-1"))
    assert response.status_code == 401 and "Basic" in response.headers["WWW-Authenticate"]
    response, _ = await answer(handshake, upgrade("/ocpp/CP-1", authorization=basic("CP-9:s3cret")))
    assert response.status_code == 401
    response, _ = await answer(handshake, upgrade("/ocpp/CP-1", authorization=basic("CP-1:nope")))
    assert (response.status_code, response.body) == (401, b"wrong station id or password\n")
    right = upgrade("/ocpp/CP-1", authorization=basic("CP-1:s3cret"))
    assert (await answer(handshake, right))[1] == "CP-1"


async def test_accept_mode_bounds_new_ids_per_address_but_not_known_ones() -> None:
    handshake = await handshake_with(True, "KNOWN", per_minute=2)
    assert (await answer(handshake, upgrade("/ocpp/NEW-1")))[1] == "NEW-1"
    assert (await answer(handshake, upgrade("/ocpp/NEW-2")))[1] == "NEW-2"
    response, station_id = await answer(handshake, upgrade("/ocpp/NEW-3"))
    assert (response.status_code, station_id) == (429, None)
    assert int(response.headers["Retry-After"]) >= 1
    assert (await answer(handshake, upgrade("/ocpp/KNOWN")))[1] == "KNOWN"
    assert (await answer(handshake, upgrade("/ocpp/NEW-4"), address="127.0.0.1"))[1] == "NEW-4"


def test_basic_credentials_are_read_or_refused_with_a_reason() -> None:
    assert basic_credentials(Headers()) is None
    assert basic_credentials(Headers(Authorization="Bearer x")) is None
    assert basic_credentials(Headers(Authorization=basic("CP-1:pw:with:colons"))) == (
        "CP-1",
        "pw:with:colons",
    )
    two = Headers([("Authorization", basic("CP-1:a")), ("Authorization", basic("CP-1:b"))])
    with pytest.raises(ValueError, match="one Authorization header"):
        basic_credentials(two)
    for malformed in ("Basic !!", basic("no-colon"), "Basic " + base64.b64encode(b"\xff").decode()):
        with pytest.raises(ValueError):
            basic_credentials(Headers(Authorization=malformed))


@pytest.mark.parametrize("path", ["/ocpp/.", "/ocpp/..", "/ocpp/%2E", "/ocpp/%2e%2E", "/ocpp/../"])
async def test_dot_and_dot_dot_are_no_station_ids_even_in_accept_mode(path: str) -> None:
    """Issue 10, item 11: the registry refuses "." and ".." (path segments, not names);
    the handshake must too, or accept mode makes them stations the API cannot name."""
    handshake = await handshake_with(accept_unknown=True)
    response, station_id = await answer(handshake, upgrade(path))
    assert (response.status_code, station_id) == (400, None)
    assert b"other than . and .." in response.body
