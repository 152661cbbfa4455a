"""Closed sets are types, yet what is stored and served is the same bytes as before."""

from __future__ import annotations

import json

from chargeledger.adapters.serialization import EventCodec
from chargeledger.domain import events as e
from chargeledger.domain.enums import (
    ENDED_STATUSES,
    AuthorizationStatus,
    CommandStatus,
    Outcome,
    RegistrationStatus,
    ReservationEndReason,
    ResetType,
    StopReason,
    UpdateType,
)

# Written by the code of before the closed sets were types: plain strings.
OLD_ROWS = {
    "StationBooted": '{"station_id":"CP-1","registration":"Accepted","vendor":"V","model":"M",'
    '"firmware_version":null,"booted_at":"2024-01-01T00:00:00+00:00","serial_number":null}',
    "ResetRequested": '{"command_id":"c-1","requested_at":"2024-01-01T00:00:00+00:00",'
    '"expires_at":"2024-01-01T00:05:00+00:00","reset_type":"Hard"}',
    "TransactionStopped": '{"transaction_id":7,"connector_id":1,"meter_stop":900,'
    '"stopped_at":"2024-01-01T01:00:00Z","id_tag":"T","id_tag_status":"Accepted",'
    '"id_tag_expiry":null,"reason":"EVDisconnected","transaction_data":[],"energy_wh":900,'
    '"energy_anomaly":null}',
    "ReservationEnded": '{"reservation_id":3,"connector_id":1,"reason":"used",'
    '"transaction_id":7,"detail":"used by transaction 7 on connector 1"}',
    "LocalListInstalled": '{"list_version":2,"update_type":"Differential",'
    '"local_authorization_list":[],"installed_by":"c-9"}',
}


def test_an_old_event_payload_decodes_with_its_closed_sets_as_members() -> None:
    codec = EventCodec()
    booted = codec.decode("StationBooted", 1, OLD_ROWS["StationBooted"])
    reset = codec.decode("ResetRequested", 1, OLD_ROWS["ResetRequested"])
    stopped = codec.decode("TransactionStopped", 1, OLD_ROWS["TransactionStopped"])
    ended = codec.decode("ReservationEnded", 1, OLD_ROWS["ReservationEnded"])
    installed = codec.decode("LocalListInstalled", 1, OLD_ROWS["LocalListInstalled"])
    assert isinstance(booted, e.StationBooted)
    assert booted.registration is RegistrationStatus.ACCEPTED
    assert isinstance(reset, e.ResetRequested) and reset.reset_type is ResetType.HARD
    assert isinstance(stopped, e.TransactionStopped)
    assert stopped.reason is StopReason.EV_DISCONNECTED
    assert stopped.id_tag_status is AuthorizationStatus.ACCEPTED
    assert isinstance(ended, e.ReservationEnded) and ended.reason is ReservationEndReason.USED
    assert isinstance(installed, e.LocalListInstalled)
    assert installed.update_type is UpdateType.DIFFERENTIAL


def test_an_old_event_encodes_back_to_the_very_bytes_it_was_read_from() -> None:
    codec = EventCodec()
    for type_name, row in OLD_ROWS.items():
        event = codec.decode(type_name, 1, row)
        assert codec.encode(event) == (type_name, 1, row)


def test_a_spelling_outside_the_set_in_an_old_event_still_reads() -> None:
    row = OLD_ROWS["TransactionStopped"].replace('"EVDisconnected"', '"Vendor-Specific"')
    stopped = EventCodec().decode("TransactionStopped", 1, row)
    assert isinstance(stopped, e.TransactionStopped)
    assert stopped.reason == "Vendor-Specific"


def test_a_member_is_written_as_its_plain_spelling() -> None:
    assert json.dumps({"status": CommandStatus.TIMED_OUT}) == '{"status": "timed_out"}'
    assert f"{Outcome.EXPIRED}" == "expired"


def test_every_outcome_is_a_command_status_that_ends_the_command() -> None:
    assert {str(outcome) for outcome in Outcome} == {str(status) for status in ENDED_STATUSES}
    assert CommandStatus.REQUESTED not in ENDED_STATUSES
