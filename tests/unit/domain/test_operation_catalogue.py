"""The operation catalogue (``domain/operations``): each operation builds its command
from the API's arguments, opens its own event, and holds its slot."""

from __future__ import annotations

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain import operations as o
from chargeledger.domain.operations import OPERATIONS, name_of, operation_for
from chargeledger.domain.operations.arguments import Span
from chargeledger.domain.station import initial_state
from tests.unit.domain.operation_scenario import common


def test_a_command_is_built_from_arguments_named_as_the_api_body() -> None:
    reset = o.RESET.command_of({"type": "Hard"}, common("r"))
    assert reset == c.RequestReset(reset_type="Hard", **common("r"))
    key = OPERATIONS["change-configuration"].command_of({"key": "K", "value": "1"}, common("k"))
    assert isinstance(key, c.RequestChangeConfiguration)
    assert (key.key, key.value) == ("K", "1")


def test_each_command_opens_the_event_of_its_operation() -> None:
    event = o.RESET.requested(c.RequestReset(reset_type="Soft", **common("r")), initial_state)
    assert isinstance(event, e.ResetRequested)
    assert name_of(event) == "reset"
    assert event.payload() == {"type": "Soft"}


def test_a_remote_start_holds_its_connector_or_without_one_its_id_tag() -> None:
    assert o.REMOTE_START.slot_of({"connector_id": 1, "id_tag": "A"}) == ("remote-start", 1)
    assert o.REMOTE_START.slot_of({"connector_id": None, "id_tag": "A"}) == (
        "remote-start",
        None,
        "A",
    )


def test_slots_hold_their_target_or_the_whole_station_or_only_an_identical_request() -> None:
    assert o.CHANGE_CONFIGURATION.slot_of({"key": "K", "value": "1"}) == (
        "change-configuration",
        "K",
    )
    assert o.RESET.slot_of({"type": "Soft"}) == ("reset", Span.WHOLE_STATION)
    assert o.RESET.slot_of({"type": "Soft", "evse_id": 2}) == ("reset", 2)
    payload = {"requested_message": "Heartbeat", "connector_id": None}
    assert o.TRIGGER_MESSAGE.slot_of(payload) == (
        "trigger-message",
        ("connector_id", None),
        ("requested_message", "Heartbeat"),
    )


def test_operation_for_finds_the_operation_of_a_command() -> None:
    command = c.RequestRemoteStop(transaction_id=7, **common("s"))
    assert operation_for(command) is o.REMOTE_STOP
