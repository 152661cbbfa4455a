"""Routing of a station's messages, through the gateway in-process on a real
127.0.0.1 socket: what only handlers registered by a test can provoke (internal
errors, slow handlers, answers that break their schema), and CALLs that wait
behind a slow one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from chargeledger.adapters.ocpp.gateway import OcppGateway
from chargeledger.adapters.ocpp.handlers import Reply
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.ports import StationAnswerInvalidError
from chargeledger.bootstrap import gateway_options
from chargeledger.config import Settings
from tests.conftest import free_port
from tests.unit.adapters.ocpp.gateway_support import new_gateway


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[OcppGateway, str]]:
    gateway = new_gateway(gateway_options(Settings(response_timeout_s=2.0)))
    port = free_port()
    await gateway.start("127.0.0.1", port)
    try:
        yield gateway, f"ws://127.0.0.1:{port}/ocpp"
    finally:
        await gateway.stop()


async def connect(url: str, station_id: str) -> ClientConnection:
    return await websockets.connect(f"{url}/{station_id}", subprotocols=[Subprotocol("ocpp1.6")])


async def receive(ws: ClientConnection) -> list[Any]:
    frame: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return frame


async def live_session(gateway: OcppGateway, station_id: str) -> StationSession:
    for _ in range(100):
        session = gateway.session(station_id)
        if session is not None:
            return session
        await asyncio.sleep(0.01)
    raise AssertionError(f"{station_id} never went live")


async def test_a_failing_handler_answers_internal_error_without_internals(
    gateway: tuple[OcppGateway, str],
) -> None:
    node, url = gateway

    def explode(session: StationSession, payload: dict[str, Any]) -> Reply:
        raise RuntimeError("secret table name users_v2 is locked")

    node.messages.handlers.update({"Heartbeat": explode})
    async with await connect(url, "U-1") as ws:
        await ws.send('[2,"h1","Heartbeat",{}]')
        error = await receive(ws)
        assert error[:3] == [4, "h1", "InternalError"]
        assert "secret" not in json.dumps(error)
        await ws.send(
            '[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
            '"status":"Available"}]'
        )
        assert (await receive(ws))[:2] == [3, "s1"]


async def test_an_answer_of_ours_that_breaks_its_schema_is_never_sent(
    gateway: tuple[OcppGateway, str],
) -> None:
    node, url = gateway
    node.messages.handlers.update({"Heartbeat": lambda session, payload: Reply({"currentTime": 5})})
    async with await connect(url, "U-2") as ws:
        await ws.send('[2,"h1","Heartbeat",{}]')
        assert (await receive(ws))[:3] == [4, "h1", "InternalError"]


async def test_an_occurrence_fault_gets_the_16_spelling(gateway: tuple[OcppGateway, str]) -> None:
    node, url = gateway
    node.messages.handlers.update({"MeterValues": lambda session, payload: Reply({})})
    async with await connect(url, "U-3") as ws:
        await ws.send('[2,"m1","MeterValues",{"connectorId":1,"meterValue":[]}]')
        assert (await receive(ws))[:3] == [4, "m1", "OccurenceConstraintViolation"]


async def test_a_2_0_1_connection_gets_the_codes_ocpp_j_2_0_1_names(
    gateway: tuple[OcppGateway, str],
) -> None:
    node, url = gateway
    node.messages.speak("ocpp2.0.1", {"TransactionEvent": lambda session, payload: Reply({})})
    event = (
        '"eventType":"Updated","timestamp":"2026-01-01T00:00:00Z","triggerReason":"Trigger",'
        '"seqNo":0,"transactionInfo":{"transactionId":"T"}'
    )
    async with websockets.connect(f"{url}/U-201", subprotocols=[Subprotocol("ocpp2.0.1")]) as ws:
        await ws.send(f'[2,"o1","TransactionEvent",{{{event},"meterValue":[]}}]')
        assert (await receive(ws))[:3] == [4, "o1", "OccurrenceConstraintViolation"]
        await ws.send(f'[2,"f1","TransactionEvent",{{{event},"colour":"red"}}]')
        assert (await receive(ws))[:3] == [4, "f1", "FormatViolation"]
        await ws.send('[2,"p1","TransactionEvent",[]]')
        assert (await receive(ws))[:3] == [4, "p1", "FormatViolation"]
        await ws.send("not json")
        assert (await receive(ws))[:3] == [4, "-1", "RpcFrameworkError"]
        await ws.send('[9,"t1","Heartbeat",{}]')
        assert (await receive(ws))[:3] == [4, "t1", "MessageTypeNotSupported"]
        await ws.send('[2,"n1","StartTransaction",{}]')
        assert (await receive(ws))[:3] == [4, "n1", "NotImplemented"]


async def test_our_call_is_answered_while_a_slow_station_call_is_being_handled(
    gateway: tuple[OcppGateway, str],
) -> None:
    node, url = gateway
    release = asyncio.Event()

    async def slow(session: StationSession, payload: dict[str, Any]) -> Reply:
        await release.wait()
        return Reply({"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 1})

    node.messages.handlers.update({"BootNotification": slow})
    async with await connect(url, "U-4") as ws:
        session = await live_session(node, "U-4")
        await ws.send(
            '[2,"b1","BootNotification",{"chargePointVendor":"v","chargePointModel":"m"}]'
        )
        await ws.send('[2,"h1","Heartbeat",{}]')  # a second CALL waits behind the first
        ours = asyncio.create_task(session.call("ClearCache", {}))
        call = await receive(ws)
        assert call[0] == 2 and call[2] == "ClearCache"
        await ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        assert await asyncio.wait_for(ours, 5) == {"status": "Accepted"}  # boot still pending
        release.set()
        assert (await receive(ws))[:2] == [3, "b1"]
        assert (await receive(ws))[:2] == [3, "h1"]  # answered in the order asked


async def test_a_station_answer_that_breaks_the_response_schema_fails_our_call(
    gateway: tuple[OcppGateway, str],
) -> None:
    node, url = gateway
    async with await connect(url, "U-5") as ws:
        session = await live_session(node, "U-5")
        ours = asyncio.create_task(session.call("Reset", {"type": "Hard"}))
        call = await receive(ws)
        await ws.send(json.dumps([3, call[1], {"state": "done"}]))
        with pytest.raises(StationAnswerInvalidError, match="breaks the OCPP schema"):
            await asyncio.wait_for(ours, 5)


async def test_calls_piled_behind_a_slow_one_are_read_later_and_all_answered_in_order(
    gateway: tuple[OcppGateway, str],
) -> None:
    node, url = gateway
    release = asyncio.Event()

    async def slow(session: StationSession, payload: dict[str, Any]) -> Reply:
        await release.wait()
        return Reply({"currentTime": "2026-01-01T00:00:00Z"})

    node.messages.handlers.update({"Heartbeat": slow})
    async with await connect(url, "U-6") as ws:
        for number in range(2000):  # OCPP allows one at a time; the rest wait unread
            await ws.send(json.dumps([2, f"h{number}", "Heartbeat", {}]))
        await asyncio.sleep(0.2)
        connection = node._live["U-6"]
        # held parsed: what was parsed before the wait filled, about a slice (~37 B each)
        assert connection.inbox is not None and len(connection.inbox) < 700
        assert connection._reading_paused
        release.set()
        answered = [(await receive(ws))[1] for _ in range(2000)]
        assert answered == [f"h{number}" for number in range(2000)]
