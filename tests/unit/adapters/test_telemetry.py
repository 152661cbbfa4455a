"""The log's telemetry reads the time from the node's clock: a command in doubt and the
projection's lag are measured against it, not against the machine's."""

from __future__ import annotations

from datetime import timedelta

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.adapters.metrics import NodeMetrics
from chargeledger.adapters.telemetry import LogTelemetry
from chargeledger.application.ports import DocumentWrite, Metadata
from chargeledger.application.read_model_documents import COMMANDS, OPEN
from chargeledger.domain import events as e
from chargeledger.domain.enums import RegistrationStatus
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore


def _command(command_id: str, status: str, dispatched_at: str | None) -> DocumentWrite:
    doc = {"command_id": command_id, "status": status, "dispatched_at": dispatched_at}
    return DocumentWrite(COMMANDS, command_id, doc, OPEN)


async def test_a_command_is_in_doubt_once_the_clock_passes_its_response_timeout() -> None:
    clock = FakeClock()
    documents = InMemoryDocumentStore()
    sent = clock.now() - timedelta(seconds=20)
    await documents.write(
        [
            _command("a", "dispatched", sent.isoformat()),
            _command("b", "dispatched", (sent - timedelta(seconds=15)).isoformat()),
            _command("c", "requested", None),
        ]
    )
    telemetry = LogTelemetry(MemoryEventStore(), documents, NodeMetrics("n"), 30.0, clock)
    assert await telemetry.commands_in_doubt() == 1  # b: 35 s without an answer
    clock.advance(11)
    assert await telemetry.commands_in_doubt() == 2


async def test_the_projection_lag_is_the_first_unprojected_events_age_by_the_clock() -> None:
    clock = FakeClock()
    store = MemoryEventStore()
    booted = e.StationBooted("CP1", RegistrationStatus.ACCEPTED, "v", "m", None, "t")
    recorded_at = (clock.now() - timedelta(seconds=7)).isoformat()
    await store.append("station-CP1", [booted], 0, Metadata("boot", recorded_at=recorded_at))
    telemetry = LogTelemetry(store, InMemoryDocumentStore(), NodeMetrics("n"), 30.0, clock)
    assert await telemetry.projection_lag_seconds(0) == 7.0
    clock.advance(3)
    assert await telemetry.projection_lag_seconds(0) == 10.0
