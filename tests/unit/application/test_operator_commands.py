"""Operator use cases with fakes: the twin's snapshot reaches the decision, a repeat
answers with the request it repeats."""

from __future__ import annotations

import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore, InMemoryEventStore
from chargeledger.adapters.ocpp.v16.operations import OCPP16
from chargeledger.adapters.ocpp.v201.operations import OCPP201_OPERATIONS
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.operator_commands import OperatorCommands
from chargeledger.application.twin_service import TwinService
from chargeledger.bootstrap import build_use_cases
from chargeledger.config import Settings
from chargeledger.domain.errors import (
    ConnectorNotAvailableError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    NotSupportedByProtocolError,
    UnknownConnectorError,
)
from chargeledger.domain.operations import OPERATIONS
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore


def operator() -> tuple[OperatorCommands, TwinService, InMemoryEventStore]:
    store, documents, clock = MemoryEventStore(), InMemoryDocumentStore(), FakeClock()
    twin = TwinService(documents, clock)
    use_cases = build_use_cases(
        Settings(), clock, CommandHandler(store, clock), documents, twin, store
    )
    return use_cases.operator, twin, store


def test_every_command_the_bus_builds_has_a_way_to_the_station() -> None:
    assert set(OPERATIONS) == set(OCPP16.specs) | set(OCPP201_OPERATIONS.specs)
    only_201 = {
        "get-base-report",
        "get-transaction-status",
        "get-charging-profiles",
        "get-report",
        "set-variables",
        "set-network-profile",
    }
    assert set(OPERATIONS) - set(OCPP16.specs) == only_201
    assert set(OCPP16.specs) <= set(OCPP201_OPERATIONS.specs)  # 2.0.1 says all of 1.6's


async def test_an_operation_the_station_s_version_has_no_message_for_is_refused() -> None:
    use_case, twin, store = operator()
    twin.connected("CP1", 1, "ocpp1.6")
    with pytest.raises(NotSupportedByProtocolError, match=r"OCPP 1\.6"):
        await use_case.request("CP1", "k1", "get-base-report", {"report_base": "FullInventory"})
    with pytest.raises(InvalidCommandError, match="evse_id"):  # 1.6 resets a station whole
        await use_case.request("CP1", "k2", "reset", {"type": "Soft", "evse_id": 1})
    twin.connected("CP2", 1, "ocpp2.0.1")
    with pytest.raises(InvalidCommandError, match="Component/Variable"):
        await use_case.request(
            "CP2", "k3", "set-variables", {"variables": [{"key": "X", "value": "1"}]}
        )
    assert await store.read_all(0) == []


async def test_a_faulted_connector_in_the_twin_refuses_a_remote_start() -> None:
    use_case, twin, _ = operator()
    twin.status_notified("CP1", 1, "Faulted", "GroundFailure")
    with pytest.raises(ConnectorNotAvailableError, match="Faulted"):
        await use_case.request("CP1", "k1", "remote-start", {"connector_id": 1, "id_tag": "T"})
    twin.status_notified("CP1", 1, "Available", "NoError")
    view = await use_case.request("CP1", "k2", "remote-start", {"connector_id": 1, "id_tag": "T"})
    assert (view["command_id"], view["status"]) == ("k2", "requested")


async def test_connectors_the_twin_knows_bound_the_connector_ids() -> None:
    use_case, twin, _ = operator()
    twin.status_notified("CP1", 1, "Available", "NoError")
    with pytest.raises(UnknownConnectorError):
        await use_case.request("CP1", "k1", "unlock-connector", {"connector_id": 2})


async def test_the_same_request_answers_with_the_view_of_the_open_one() -> None:
    use_case, _, store = operator()
    body = {"connector_id": 1, "id_tag": "T"}
    await use_case.request("CP1", "k1", "remote-start", body)
    again = await use_case.request("CP1", "k2", "remote-start", body)
    assert (again["command_id"], again["requested_as"]) == ("k1", "k2")
    assert [type(r.event).__name__ for r in store.log] == [
        "RemoteStartRequested",
        "CommandMerged",  # k2 reads back as k1
    ]


async def test_a_key_reused_with_another_body_is_refused() -> None:
    use_case, _, _ = operator()
    await use_case.request("CP1", "k1", "reset", {"type": "Soft"})
    assert (await use_case.request("CP1", "k1", "reset", {"type": "Soft"}))["command_id"] == "k1"
    with pytest.raises(IdempotencyKeyReusedError):
        await use_case.request("CP1", "k1", "reset", {"type": "Hard"})
    with pytest.raises(IdempotencyKeyReusedError):
        await use_case.request("CP1", "k1", "reset", {"type": "Soft"}, ttl_s=5)


async def test_a_time_to_live_on_the_request_sets_its_expiry() -> None:
    use_case, _, store = operator()
    await use_case.request("CP1", "k1", "reset", {"type": "Hard"}, ttl_s=30)
    event = store.log[0].event
    assert getattr(event, "expires_at") == "2026-01-01T00:00:30+00:00"  # noqa: B009
