"""Operator use cases of the six profiles with fakes: what a command looks up before
deciding (stored profiles, reservation ids, the registry, reported configuration),
and the reservation expiry sweep, which records each expiry once however many sweep."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.application.charging_profile_library import (
    ChargingProfileNotFoundError,
)
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.holdings_projection import CONFIGURATION, OperationsProjection
from chargeledger.application.operator_commands import LOOKUPS
from chargeledger.application.ports import DocumentWrite
from chargeledger.application.projections import CommandAndStationProjection
from chargeledger.application.reservation_expiry import ReservationExpiry
from chargeledger.application.twin_service import TwinService
from chargeledger.bootstrap import build_use_cases
from chargeledger.config import Settings
from chargeledger.domain import events as e
from chargeledger.domain.errors import (
    InvalidChargingProfileError,
    TransactionNotFoundError,
    UnknownConfigurationKeyError,
)
from chargeledger.domain.operations import OPERATIONS, Lookup
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore
from tests.unit.domain.scenario import boot, start_transaction

PROFILE: dict[str, Any] = {
    "stack_level": 0,
    "charging_profile_purpose": "TxProfile",
    "charging_profile_kind": "Relative",
    "charging_schedule": {
        "charging_rate_unit": "W",
        "charging_schedule_period": [{"start_period": 0, "limit": 7400}],
    },
}


class Node:
    def __init__(self) -> None:
        self.store, self.documents, self.clock = (
            MemoryEventStore(),
            InMemoryDocumentStore(),
            FakeClock(),
        )
        self.handler = CommandHandler(self.store, self.clock)
        twin = TwinService(self.documents, self.clock)
        use_cases = build_use_cases(
            Settings(), self.clock, self.handler, self.documents, twin, self.store
        )
        self.profiles = use_cases.profiles
        self.id_tags = use_cases.id_tags
        self.operator = use_cases.operator
        self.projection = CommandAndStationProjection(
            self.documents, OperationsProjection(self.documents)
        )
        self.projected = 0

    async def catch_up(self) -> None:
        batch = await self.store.read_all(self.projected)
        if batch:
            await self.documents.commit_batch(
                "views", batch[-1].position, await self.projection.writes_for(batch)
            )
            self.projected = batch[-1].position

    async def request(self, name: str, body: dict[str, Any], key: str) -> e.Event:
        await self.operator.request("CP1", key, name, body)
        return next(
            r.event
            for r in await self.store.read_stream("station-CP1")
            if r.metadata.command_id == key
        )


async def booted_node() -> Node:
    node = Node()
    await node.handler.execute("CP1", boot())
    return node


async def test_a_stored_profile_named_by_id_rides_on_the_command_whole() -> None:
    node = await booted_node()
    await node.profiles.put(3, PROFILE)
    event = await node.request(
        "remote-start", {"connector_id": 1, "id_tag": "T", "charging_profile_id": 3}, "rs"
    )
    assert isinstance(event, e.RemoteStartRequested)
    assert event.charging_profile == {**PROFILE, "charging_profile_id": 3}
    with pytest.raises(ChargingProfileNotFoundError, match="PUT it at /api/charging-profiles/4"):
        await node.request(
            "set-charging-profile", {"connector_id": 0, "charging_profile_id": 4}, "sp"
        )


async def test_a_profile_is_checked_before_it_is_stored() -> None:
    node = Node()
    with pytest.raises(InvalidChargingProfileError, match="start at 0"):
        bad = {
            **PROFILE,
            "charging_schedule": {
                **PROFILE["charging_schedule"],
                "charging_schedule_period": [{"start_period": 5, "limit": 1}],
            },
        }
        await node.profiles.put(1, bad)
    with pytest.raises(InvalidChargingProfileError, match="2 in the body, 1 in the path"):
        await node.profiles.put(1, {**PROFILE, "charging_profile_id": 2})
    assert await node.profiles.list() == []


async def test_each_reservation_gets_its_own_id() -> None:
    node = await booted_node()
    first = await node.request(
        "reserve-now",
        {"connector_id": 1, "expiry_date": "2026-01-01T01:00:00Z", "id_tag": "A"},
        "r1",
    )
    second = await node.request(
        "reserve-now",
        {"connector_id": 2, "expiry_date": "2026-01-01T01:00:00Z", "id_tag": "B"},
        "r2",
    )
    assert isinstance(first, e.ReserveNowRequested) and isinstance(second, e.ReserveNowRequested)
    assert first.reservation_id != second.reservation_id


async def test_the_local_list_is_the_registry_with_each_tags_verdict_now() -> None:
    node = await booted_node()
    await node.id_tags.put("OK", "Accepted", "2027-01-01T00:00:00Z")
    await node.id_tags.put("OLD", "Accepted", "2025-01-01T00:00:00Z")
    await node.id_tags.put("NO", "Blocked")
    event = await node.request("send-local-list", {"update_type": "Full"}, "list")
    assert isinstance(event, e.SendLocalListRequested)
    assert event.local_authorization_list == [
        {"id_tag": "NO", "id_tag_info": {"status": "Blocked"}},
        {
            "id_tag": "OK",
            "id_tag_info": {"status": "Accepted", "expiry_date": "2027-01-01T00:00:00Z"},
        },
        {
            "id_tag": "OLD",
            "id_tag_info": {"status": "Expired", "expiry_date": "2025-01-01T00:00:00Z"},
        },
    ]


async def test_a_configuration_key_the_station_refused_is_refused_before_sending() -> None:
    node = await booted_node()
    doc = {"station_id": "CP1", "keys": {}, "unknown_keys": ["Bogus"], "reported_at": None}
    await node.documents.write([DocumentWrite(CONFIGURATION, "CP1", doc)])
    with pytest.raises(UnknownConfigurationKeyError):
        await node.operator.request(
            "CP1", "c1", "change-configuration", {"key": "BOGUS", "value": "1"}
        )


async def test_a_remote_stop_of_another_stations_transaction_is_refused_naming_it() -> None:
    node = await booted_node()
    await node.handler.execute("CP2", boot())
    await node.handler.execute("CP2", start_transaction(5))
    await node.catch_up()
    with pytest.raises(TransactionNotFoundError, match="runs on station CP2"):
        await node.operator.request("CP1", "s1", "remote-stop", {"transaction_id": 5})


async def test_a_remote_stop_of_a_transaction_never_recorded_is_requested() -> None:
    node = await booted_node()
    requested = await node.request("remote-stop", {"transaction_id": 4242}, "s1")
    assert requested == e.RemoteStopRequested(
        command_id="s1",
        requested_at=requested.requested_at,
        expires_at=requested.expires_at,
        transaction_id=4242,
    )


async def reserved_until(node: Node, until: str) -> None:
    await node.request(
        "reserve-now", {"connector_id": 1, "expiry_date": until, "id_tag": "A"}, "res"
    )
    await node.catch_up()


async def test_the_sweep_ends_a_reservation_past_its_expiry_and_only_then() -> None:
    node = await booted_node()
    await reserved_until(node, "2026-01-01T00:00:30+00:00")
    sweep = ReservationExpiry(node.handler, node.documents, node.clock)
    assert await sweep.expire_due() == 0
    node.clock.advance(30)
    assert await sweep.expire_due() == 1
    events = [r.event for r in await node.store.read_stream("station-CP1")]
    assert [type(x).__name__ for x in events[-2:]] == ["ReservationEnded", "CommandExpired"]
    await node.catch_up()
    assert await sweep.expire_due() == 0  # no longer live


async def test_sweeps_racing_on_one_reservation_record_its_end_once() -> None:
    node = await booted_node()
    await reserved_until(node, "2026-01-01T00:00:10+00:00")
    node.clock.advance(60)
    sweeps = [ReservationExpiry(node.handler, node.documents, node.clock) for _ in range(4)]
    ended = await asyncio.gather(*(s.expire_due() for s in sweeps))
    assert sum(ended) == 1
    endings = [
        r
        for r in await node.store.read_stream("station-CP1")
        if isinstance(r.event, e.ReservationEnded)
    ]
    assert len(endings) == 1


def test_every_lookup_an_operation_spec_can_name_is_looked_up() -> None:
    assert set(LOOKUPS) == set(Lookup)
    assert {lookup for op in OPERATIONS.values() for lookup in op.lookups} == set(Lookup)
