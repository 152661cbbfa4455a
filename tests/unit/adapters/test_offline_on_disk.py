"""OCPP 2.0.1's ``offline`` on the session events (issue 17): stored only when true, so
an event recorded before the field existed reads as sent online, and one sent online
is stored as the very bytes it was before."""

from __future__ import annotations

import json

import pytest

from chargeledger.adapters.serialization import EventCodec
from chargeledger.domain import events as e

# Written before ``offline`` was a field: a 2.0.1 Started, a 2.0.1 Ended, a late Started.
OLD_ROWS = {
    "TransactionStarted": '{"transaction_id":7,"connector_id":1,"id_tag":"T",'
    '"id_tag_status":"Accepted","id_tag_expiry":null,"meter_start":100,'
    '"started_at":"2026-01-01T00:00:00Z","reservation_id":null,'
    '"remote_start_command_id":null,"station_transaction_id":"TX-1","seq_no":0}',
    "TransactionStopped": '{"transaction_id":7,"connector_id":1,"meter_stop":900,'
    '"stopped_at":"2026-01-01T01:00:00Z","id_tag":null,"id_tag_status":null,'
    '"id_tag_expiry":null,"reason":"Local","transaction_data":[],"energy_wh":800,'
    '"energy_anomaly":null,"station_transaction_id":"TX-1","seq_no":3}',
    "TransactionStartCorrected": '{"transaction_id":7,"connector_id":1,"meter_start":100,'
    '"started_at":"2026-01-01T00:00:00Z","station_transaction_id":"TX-1","seq_no":0}',
}


@pytest.mark.parametrize("type_name", sorted(OLD_ROWS))
def test_an_event_from_before_reads_as_sent_online_and_writes_back_the_same_bytes(
    type_name: str,
) -> None:
    codec = EventCodec()
    event = codec.decode(type_name, 1, OLD_ROWS[type_name])
    assert isinstance(
        event, e.TransactionStarted | e.TransactionStopped | e.TransactionStartCorrected
    )
    assert event.offline is False
    assert codec.encode(event) == (type_name, 1, OLD_ROWS[type_name])


@pytest.mark.parametrize("type_name", sorted(OLD_ROWS))
def test_an_event_sent_offline_is_stored_so_and_read_back(type_name: str) -> None:
    codec = EventCodec()
    event = codec.decode(type_name, 1, OLD_ROWS[type_name])
    offline = type(event)(**{**json.loads(OLD_ROWS[type_name]), "offline": True})
    name, version, data = codec.encode(offline)
    assert json.loads(data)["offline"] is True
    assert codec.decode(name, version, data) == offline != event
