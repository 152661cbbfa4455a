"""End to end: which OCPP version a connection speaks, chosen at the handshake, and
recorded on the connection and in the station view."""

from __future__ import annotations

from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from tests.e2e.conftest import ServedNode, eventually
from tests.e2e.station201 import OCPP16, OCPP201


async def _spoken(node: ServedNode, station_id: str, offered: list[Subprotocol]) -> str | None:
    async with websockets.connect(f"{node.ocpp_url}/{station_id}", subprotocols=offered) as ws:
        async with node.client() as api:

            async def recorded() -> Any:
                response = await api.get(f"/api/stations/{station_id}")
                return response.status_code == 200 and response.json()["protocol"]

            assert await eventually(recorded) == ws.subprotocol
        return ws.subprotocol


@pytest.mark.parametrize(
    ("offered", "spoken"),
    [
        ([OCPP201], "ocpp2.0.1"),
        ([OCPP16], "ocpp1.6"),
        ([OCPP16, OCPP201], "ocpp2.0.1"),
        ([OCPP201, OCPP16], "ocpp2.0.1"),
    ],
)
async def test_the_node_speaks_2_0_1_when_offered_and_prefers_it_over_1_6(
    node: ServedNode, offered: list[Subprotocol], spoken: str
) -> None:
    assert await _spoken(node, "HS-1", offered) == spoken


async def test_a_station_offering_no_version_we_speak_is_refused_at_the_handshake(
    node: ServedNode,
) -> None:
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(
            f"{node.ocpp_url}/HS-2", subprotocols=[Subprotocol("ocpp2.1")]
        ):
            pass
