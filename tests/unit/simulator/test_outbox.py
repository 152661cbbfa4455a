"""The outbox keeps transaction messages across a lost connection, in order, and fills
in the transaction id the CSMS gave once it is known."""

from __future__ import annotations

from chargeledger.simulator.outbox import Outbox


async def test_a_lost_connection_drops_status_notifications_but_keeps_transaction_messages() -> (
    None
):
    outbox = Outbox()
    ref = outbox.new_transaction_ref()
    outbox.put("StatusNotification", {"connector_id": 1, "error_code": "NoError", "status": "x"})
    outbox.put("StartTransaction", {"connector_id": 1}, ref)
    outbox.put("StatusNotification", {"connector_id": 1, "error_code": "NoError", "status": "y"})
    outbox.put("MeterValues", {"connector_id": 1, "meter_value": []}, ref)
    outbox.put("StopTransaction", {"meter_stop": 5}, ref)
    outbox.drop_volatile()
    sent = []
    while len(outbox):
        message = await outbox.head()
        sent.append(message.action)
        outbox.done(message)
    assert sent == ["StartTransaction", "MeterValues", "StopTransaction"]


async def test_the_head_stays_first_until_it_is_answered() -> None:
    outbox = Outbox()
    outbox.put("StartTransaction", {"connector_id": 1}, outbox.new_transaction_ref())
    outbox.put("StartTransaction", {"connector_id": 2}, outbox.new_transaction_ref())
    first = await outbox.head()
    assert await outbox.head() is first  # sent, connection lost: the same message again
    outbox.done(first)
    assert (await outbox.head()).payload == {"connector_id": 2}


def test_messages_of_a_transaction_carry_the_id_the_csms_gave_its_start() -> None:
    outbox = Outbox()
    ref = outbox.new_transaction_ref()
    outbox.put(
        "StartTransaction",
        {"connector_id": 1, "id_tag": "T", "meter_start": 10, "timestamp": "2000-01-01T00:00:00Z"},
        ref,
    )
    outbox.put("StopTransaction", {"meter_stop": 20, "timestamp": "2000-01-01T01:00:00Z"}, ref)
    start, stop = list(outbox._messages)
    assert outbox.request(start).meter_start == 10
    assert outbox.request(stop) is None  # no id yet
    outbox.resolve(ref, 42)
    assert outbox.request(stop).transaction_id == 42


def test_a_full_outbox_gives_up_meter_readings_never_starts_or_stops() -> None:
    outbox = Outbox(max_durable=3)
    ref = outbox.new_transaction_ref()
    outbox.put("StartTransaction", {}, ref)
    outbox.put("MeterValues", {"n": 1}, ref)
    outbox.put("MeterValues", {"n": 2}, ref)
    outbox.put("StopTransaction", {}, ref)
    actions = [(m.action, m.payload.get("n")) for m in outbox._messages]
    assert actions == [
        ("StartTransaction", None),
        ("MeterValues", 2),
        ("StopTransaction", None),
    ]
    assert outbox.dropped == 1
