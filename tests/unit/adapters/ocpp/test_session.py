"""Our CALLs to one station: one outstanding, FIFO, timed out, bounded, handed over."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from chargeledger.adapters.ocpp import framing
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.ports import (
    CallNotSentError,
    CallTimeoutError,
    InvalidCallError,
    StationAnswerInvalidError,
    StationCallError,
    StationDisconnectedError,
    StationOfflineError,
    StationQueueFullError,
)

RESET = {"type": "Soft"}


class Wire:
    """What the session wrote to its socket."""

    def __init__(self) -> None:
        self.sent: list[list[Any]] = []

    def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    @property
    def last_id(self) -> str:
        return str(self.sent[-1][1])


def open_session(wire: Wire, timeout: float = 5.0, max_queue: int = 8) -> StationSession:
    session = StationSession("CP-1", 1, wire.send_text, timeout, max_queue)
    session.start_sending()
    return session


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_one_call_at_a_time_in_the_order_asked() -> None:
    wire = Wire()
    session = open_session(wire)
    first = asyncio.create_task(session.call("Reset", RESET))
    second = asyncio.create_task(session.call("ClearCache", {}))
    await settle()
    assert [frame[2] for frame in wire.sent] == ["Reset"]
    assert session.answer_arrived(framing.CallResult(wire.last_id, {"status": "Accepted"}))
    await settle()
    assert [frame[2] for frame in wire.sent] == ["Reset", "ClearCache"]
    assert await first == {"status": "Accepted"}
    session.answer_arrived(framing.CallResult(wire.last_id, {"status": "Rejected"}))
    assert await second == {"status": "Rejected"}


async def test_no_answer_in_time_fails_the_call_and_sends_the_next() -> None:
    wire = Wire()
    session = open_session(wire, timeout=0.05)
    first = asyncio.create_task(session.call("Reset", RESET))
    second = asyncio.create_task(session.call("ClearCache", {}))
    with pytest.raises(CallTimeoutError, match=r"did not answer Reset within 0\.05 s"):
        await first
    await settle()
    assert [frame[2] for frame in wire.sent] == ["Reset", "ClearCache"]
    late = framing.CallResult(str(wire.sent[0][1]), {"status": "Accepted"})
    assert not session.answer_arrived(late)  # a late answer to a timed-out CALL is dropped
    second.cancel()


async def test_a_call_error_fails_the_call_with_its_code() -> None:
    wire = Wire()
    session = open_session(wire)
    pending = asyncio.create_task(session.call("Reset", RESET))
    await settle()
    session.answer_arrived(framing.CallErrorFrame(wire.last_id, "NotSupported", "no resets here"))
    with pytest.raises(StationCallError) as raised:
        await pending
    assert (raised.value.code, raised.value.description) == ("NotSupported", "no resets here")


async def test_an_answer_that_breaks_the_response_schema_fails_clearly() -> None:
    wire = Wire()
    session = open_session(wire)
    pending = asyncio.create_task(session.call("Reset", RESET))
    await settle()
    session.answer_arrived(framing.CallResult(wire.last_id, {"status": "Maybe"}))
    with pytest.raises(StationAnswerInvalidError, match="breaks the OCPP schema") as raised:
        await pending
    assert raised.value.code == "PropertyConstraintViolation"


async def test_an_answer_with_another_id_is_not_ours() -> None:
    wire = Wire()
    session = open_session(wire)
    pending = asyncio.create_task(session.call("Reset", RESET))
    await settle()
    assert not session.answer_arrived(framing.CallResult("someone-else", {"status": "Accepted"}))
    assert not pending.done()
    pending.cancel()


async def test_a_payload_that_breaks_its_schema_is_not_sent() -> None:
    wire = Wire()
    session = open_session(wire)
    with pytest.raises(InvalidCallError, match="Reset for CP-1 not sent"):
        await session.call("Reset", {"type": "Gentle"})
    assert wire.sent == []


async def test_a_full_queue_refuses_clearly_and_drops_nothing_already_queued() -> None:
    wire = Wire()
    session = open_session(wire, max_queue=2)
    waiting = [asyncio.create_task(session.call("ClearCache", {})) for _ in range(3)]
    await settle()  # one sent, two queued
    assert session.queued == 2
    with pytest.raises(StationQueueFullError, match="2 CALLs already wait for station CP-1"):
        await session.call("ClearCache", {})
    for _ in range(3):
        session.answer_arrived(framing.CallResult(wire.last_id, {"status": "Accepted"}))
        await settle()
    assert [await task for task in waiting] == [{"status": "Accepted"}] * 3


async def test_a_caller_that_gives_up_while_queued_is_never_sent() -> None:
    wire = Wire()
    session = open_session(wire)
    first = asyncio.create_task(session.call("Reset", RESET))
    impatient = asyncio.create_task(session.call("ClearCache", {}))
    await settle()
    impatient.cancel()
    await settle()
    session.answer_arrived(framing.CallResult(wire.last_id, {"status": "Accepted"}))
    await first
    await settle()
    assert [frame[2] for frame in wire.sent] == ["Reset"]


async def test_a_close_leaves_the_sent_call_in_doubt_and_the_queued_unsent() -> None:
    wire = Wire()
    session = open_session(wire)
    sent = asyncio.create_task(session.call("Reset", RESET))
    queued = asyncio.create_task(session.call("ClearCache", {}))
    await settle()
    session.connection_closed()
    with pytest.raises(StationDisconnectedError) as in_doubt:
        await sent
    assert not isinstance(in_doubt.value, CallNotSentError)
    with pytest.raises(StationOfflineError):
        await queued
    with pytest.raises(StationOfflineError, match="not connected"):
        await session.call("ClearCache", {})


async def test_a_takeover_moves_unsent_calls_to_the_newer_connection_in_order() -> None:
    """I8: the older connection is fenced at takeover: its late answer is not taken, its unsent
    CALLs move to the newer."""
    old_wire, new_wire = Wire(), Wire()
    older = open_session(old_wire)
    in_flight = asyncio.create_task(older.call("Reset", RESET))
    queued = [asyncio.create_task(older.call("ClearCache", {})) for _ in range(2)]
    await settle()
    newer = StationSession("CP-1", 2, new_wire.send_text)
    older.hand_over_to(newer)
    assert older.fenced
    # the older's late answer is not taken: it is fenced
    assert not older.answer_arrived(framing.CallResult(old_wire.last_id, {"status": "Accepted"}))
    older.connection_closed()
    with pytest.raises(StationDisconnectedError):
        await in_flight
    assert new_wire.sent == []  # the newer goes on only once told
    newer.start_sending()
    for task in queued:
        await settle()
        assert new_wire.sent[-1][2] == "ClearCache"
        newer.answer_arrived(framing.CallResult(new_wire.last_id, {"status": "Accepted"}))
        assert await task == {"status": "Accepted"}
    # a caller still holding the older link reaches the newer connection
    later = asyncio.create_task(older.call("ClearCache", {}))
    await settle()
    assert len(new_wire.sent) == 3
    newer.answer_arrived(framing.CallResult(new_wire.last_id, {"status": "Accepted"}))
    assert await later == {"status": "Accepted"}
