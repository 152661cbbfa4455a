"""The dispatcher's work item is read once, at the edge, from a committed request or a
command view; a view it cannot read is passed over, never sent half-read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chargeledger.application.outgoing_commands import OutgoingCommand
from chargeledger.application.ports import Metadata, RecordedEvent
from chargeledger.application.read_model_documents import command_doc
from chargeledger.domain import events as e
from chargeledger.domain.enums import CommandStatus, ResetType

REQUEST = e.ResetRequested(
    command_id="k1",
    requested_at="2024-01-01T00:00:00+00:00",
    expires_at="2024-01-01T00:05:00+00:00",
    reset_type=ResetType.SOFT,
)


def _recorded(event: e.Event, position: int) -> RecordedEvent:
    return RecordedEvent("station-CP-1", 1, position, event, Metadata())


def test_a_committed_request_and_its_view_give_the_same_work_item() -> None:
    recorded = _recorded(REQUEST, 7)
    doc = command_doc(recorded, None)
    assert doc is not None
    from_view = OutgoingCommand.from_view(doc)
    assert from_view == OutgoingCommand.requested(recorded, REQUEST)
    assert from_view is not None
    assert from_view.station_id == "CP-1"
    assert from_view.status is CommandStatus.REQUESTED
    assert from_view.payload == {"type": "Soft"}
    assert from_view.expires_at == datetime(2024, 1, 1, 0, 5, tzinfo=UTC)
    assert from_view.expired(datetime(2024, 1, 1, 0, 5, tzinfo=UTC))


def test_a_dispatched_view_carries_its_last_attempt_and_position() -> None:
    requested = command_doc(_recorded(REQUEST, 7), None)
    dispatched = command_doc(
        _recorded(e.CommandDispatched("k1", 2, 5, "2024-01-01T00:01:00+00:00"), 9), requested
    )
    assert dispatched is not None
    command = OutgoingCommand.from_view(dispatched)
    assert command is not None
    assert (command.status, command.attempt, command.position) == (CommandStatus.DISPATCHED, 2, 9)


def test_a_view_that_lacks_what_sending_reads_is_passed_over() -> None:
    good = command_doc(_recorded(REQUEST, 7), None)
    assert good is not None
    broken: list[dict[str, Any]] = [
        {**good, "payload": "Soft"},
        {**good, "position": "7"},
        {**good, "expires_at": "soon"},
        {**good, "status": "accepted"},
        {**good, "status": "lost"},
        {k: v for k, v in good.items() if k != "station_id"},
    ]
    assert [OutgoingCommand.from_view(doc) for doc in broken] == [None] * len(broken)
