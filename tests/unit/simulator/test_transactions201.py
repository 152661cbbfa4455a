"""A 2.0.1 charger without a connection: its sessions go on, each numbering its own
TransactionEvents from 0, every one of them waiting in the outbox marked offline."""

from __future__ import annotations

import asyncio

import pytest
from ocpp.v201 import call

from chargeledger.simulator.charger import PROTOCOL_201, Charger
from chargeledger.simulator.charger_parts import Behaviour
from chargeledger.simulator.outbox import Outbox
from chargeledger.simulator.transactions201 import Transactions201

TOKEN = {"id_token": "DRIVER", "type": "ISO14443"}


def _transactions(charger: Charger) -> Transactions201:
    assert charger.transactions201 is not None
    return charger.transactions201


async def test_offline_sessions_queue_their_events_numbered_per_transaction() -> None:
    # Given a 2.0.1 charger that is not connected
    charger = Charger("C-201", Behaviour(meter_interval_s=0.01), protocol=PROTOCOL_201)
    transactions = _transactions(charger)
    # When two sessions run and end
    first = transactions.start(1, TOKEN, "Authorized")
    second = transactions.start(2, TOKEN, "Authorized")
    await asyncio.sleep(0.05)
    assert transactions.stop(1, "EVDisconnected", "EVCommunicationLost")
    assert transactions.stop(2, "Local", "StopAuthorized")
    assert not transactions.stop(2, "Local", "StopAuthorized")  # nothing runs there now
    # Then each one's events wait, in order, numbered from 0, marked offline
    messages = list(charger.outbox._messages)
    assert {m.action for m in messages} == {"TransactionEvent"}  # no status while offline
    for transaction_id in (first, second):
        events = [
            m.payload
            for m in messages
            if m.payload["transaction_info"]["transaction_id"] == transaction_id
        ]
        assert [e["seq_no"] for e in events] == list(range(len(events)))
        types = [e["event_type"] for e in events]
        assert types[0] == "Started" and types[-1] == "Ended" and "Updated" in types
        assert all(e["offline"] is True for e in events)
    # And they become 2.0.1 requests, kept across a lost connection
    assert all(m.durable for m in messages)
    assert isinstance(charger.outbox.request(messages[0]), call.TransactionEvent)
    assert charger.outbox.durable_count == len(messages)
    charger.close()


async def test_an_evse_holds_one_session_at_a_time() -> None:
    charger = Charger("C-201", Behaviour(meter_interval_s=10), protocol=PROTOCOL_201)
    transactions = _transactions(charger)
    transactions.start(1, TOKEN, "Authorized")
    assert transactions.free_evses() == [2]
    with pytest.raises(ValueError, match="not free"):
        transactions.start(1, TOKEN, "Authorized")
    charger.close()


def test_a_1_6_charger_has_no_2_0_1_sessions() -> None:
    assert Charger("C-16").transactions201 is None


def test_a_full_outbox_drops_the_oldest_updated_event_never_a_start_or_an_end() -> None:
    outbox = Outbox(max_durable=3, calls=call)

    def event(event_type: str, seq_no: int) -> None:
        outbox.put("TransactionEvent", {"event_type": event_type, "seq_no": seq_no})

    for seq_no, event_type in enumerate(["Started", "Updated", "Updated", "Updated", "Ended"]):
        event(event_type, seq_no)
    kept = [(m.payload["event_type"], m.payload["seq_no"]) for m in outbox._messages]
    assert kept == [("Started", 0), ("Updated", 3), ("Ended", 4)]
    assert outbox.dropped == 2
