"""Security of the OCPP endpoint on a served node: the unknown-station policy,
security profile 1 (HTTP Basic, per-station password) and profile 2 (TLS with a
certificate made in the test)."""

from __future__ import annotations

import base64
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
import websockets
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import ServedNode, Station, connected_station, start_node

PASSWORD = "correct horse battery"


def add_station(store: str, station_id: str, password: str | None = None) -> None:
    extra = ["--password", password] if password else []
    subprocess.run(
        [
            sys.executable,
            "-m",
            "chargeledger.entrypoints.cli",
            "stations",
            "--store",
            store,
            "add",
            station_id,
            *extra,
        ],
        check=True,
        capture_output=True,
    )


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def registered_node(tmp_path: Path, *extra: str) -> ServedNode:
    store = f"sqlite:///{tmp_path / 'secure.db'}"
    add_station(store, "SEC-1", PASSWORD)
    add_station(store, "SEC-2", "another password")
    add_station(store, "SEC-OPEN")
    node = start_node(tmp_path, *extra, store=store)
    return node


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    node = registered_node(tmp_path_factory.mktemp("secure"), "--unknown-stations", "reject")
    try:
        yield node
    finally:
        node.stop()


async def refused_status(node: ServedNode, station_id: str, **connect: object) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            f"{node.ocpp_url}/{station_id}", subprotocols=["ocpp1.6"], **connect
        ):
            pass
    return refused.value.response.status_code


async def test_the_right_password_lets_the_station_in(secure: ServedNode) -> None:
    async with connected_station(
        secure, "SEC-1", additional_headers=basic("SEC-1", PASSWORD)
    ) as station:
        assert (await station.boot()).status == "Accepted"
        # a reconnect checks the password again (from the verified cache)
    async with connected_station(
        secure, "SEC-1", additional_headers=basic("SEC-1", PASSWORD)
    ) as station:
        await station.call(call.Heartbeat())


async def test_a_wrong_or_missing_password_is_401(secure: ServedNode) -> None:
    assert await refused_status(secure, "SEC-1", additional_headers=basic("SEC-1", "guess")) == 401
    assert await refused_status(secure, "SEC-1") == 401
    # a wrong password after a right one was cached is still refused
    assert await refused_status(secure, "SEC-1", additional_headers=basic("SEC-1", "x")) == 401


async def test_credentials_of_another_station_are_refused(secure: ServedNode) -> None:
    # SEC-2's own, correct credentials presented on SEC-1's URL
    headers = basic("SEC-2", "another password")
    assert await refused_status(secure, "SEC-1", additional_headers=headers) == 401
    # and on a station without a password
    assert await refused_status(secure, "SEC-OPEN", additional_headers=headers) == 401


async def test_a_station_without_a_password_connects_without_auth(secure: ServedNode) -> None:
    async with connected_station(secure, "SEC-OPEN") as station:
        await station.call(call.Heartbeat())


async def test_an_unknown_station_is_refused_with_404(secure: ServedNode) -> None:
    assert await refused_status(secure, "NOT-REGISTERED") == 404


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedNode, ssl.SSLContext]]:
    folder = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    server_cert = authority.issue_cert("127.0.0.1", "localhost")
    cert, key = folder / "server.pem", folder / "server.key"
    server_cert.cert_chain_pems[0].write_to_path(str(cert))
    for extra in server_cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert), append=True)
    server_cert.private_key_pem.write_to_path(str(key))
    node = registered_node(folder, "--tls-cert", str(cert), "--tls-key", str(key))
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    authority.configure_trust(client)
    try:
        yield node, client
    finally:
        node.stop()


async def test_tls_with_basic_auth_serves_a_station(
    tls: tuple[ServedNode, ssl.SSLContext],
) -> None:
    node, client = tls
    secure_node = ServedNode(
        node.process,
        node.store,
        node.ocpp_url.replace("ws://", "wss://"),
        node.api_url,
        node.log_path,
    )
    async with connected_station(
        secure_node, "SEC-1", Station, ssl=client, additional_headers=basic("SEC-1", PASSWORD)
    ) as station:
        assert (await station.boot()).status == "Accepted"


async def test_tls_refuses_plain_websocket_and_untrusted_clients_see_a_bad_certificate(
    tls: tuple[ServedNode, ssl.SSLContext],
) -> None:
    node, _ = tls
    with pytest.raises(Exception):  # noqa: B017 - the server talks TLS, not HTTP
        async with websockets.connect(
            f"{node.ocpp_url}/SEC-1", subprotocols=["ocpp1.6"], open_timeout=3
        ):
            pass
    untrusting = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    with pytest.raises(ssl.SSLCertVerificationError):
        async with websockets.connect(
            f"{node.ocpp_url.replace('ws://', 'wss://')}/SEC-1",
            subprotocols=["ocpp1.6"],
            ssl=untrusting,
        ):
            pass
