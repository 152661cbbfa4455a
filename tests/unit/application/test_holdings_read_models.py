"""Read models of the six profiles' operations, from a log the real command handler wrote:
reservations, configuration keys, the local list, installed charging profiles. The
same log projected one event at a time and in one batch gives the same documents."""

from __future__ import annotations

from typing import Any

import pytest

from chargeledger.adapters.memory import InMemoryDocumentStore, InMemoryEventStore
from chargeledger.application.charging_profile_library import ChargingProfileLibrary
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.holdings_projection import (
    CONFIGURATION,
    LIVE_RESERVATIONS,
    LOCAL_LISTS,
    RESERVATIONS,
    STATION_PROFILES,
    OperationsProjection,
)
from chargeledger.application.holdings_views import OperationViews
from chargeledger.application.projections import CommandAndStationProjection
from chargeledger.application.twin_service import TwinService
from chargeledger.domain import commands as c
from chargeledger.domain import commands_201 as c201
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore
from tests.unit.domain.operation_scenario import common, reserve
from tests.unit.domain.scenario import boot, start_transaction, stop_transaction

TX_PROFILE = {
    "charging_profile_id": 3,
    "stack_level": 0,
    "charging_profile_purpose": "TxProfile",
    "charging_profile_kind": "Relative",
    "charging_schedule": {
        "charging_rate_unit": "A",
        "charging_schedule_period": [{"start_period": 0, "limit": 10}],
    },
}
DEFAULT_PROFILE = {
    **TX_PROFILE,
    "charging_profile_id": 4,
    "charging_profile_purpose": "TxDefaultProfile",
}


class Station:
    """Drives the real handler as the API and the dispatcher would."""

    def __init__(self) -> None:
        self.store = MemoryEventStore()
        self.handler = CommandHandler(self.store, FakeClock())

    async def run(self, command: c.Command) -> None:
        await self.handler.execute("CP1", command)

    async def answered(self, command: c.OperatorCommand, outcome: str, **result: Any) -> None:
        await self.run(command)
        target = command.command_id
        await self.run(c.MarkDispatched(f"{target}:dispatch:1", target, 1, 7, "t"))
        await self.run(c.RecordOutcome(f"{target}:{outcome}", target, outcome, result))


async def project(store: InMemoryEventStore, batch_size: int) -> InMemoryDocumentStore:
    documents = InMemoryDocumentStore()
    projection = CommandAndStationProjection(documents, OperationsProjection(documents))
    log = await store.read_all(0, 10_000)
    for first in range(0, len(log), batch_size):
        batch = log[first : first + batch_size]
        await documents.commit_batch(
            "views", batch[-1].position, await projection.writes_for(batch)
        )
    return documents


async def history() -> Station:
    station = Station()
    await station.run(boot())
    config = [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
    ]
    await station.answered(
        c.RequestGetConfiguration(**common("get")), "accepted", configurationKey=config
    )
    await station.answered(
        c.RequestGetConfiguration(key=["Foo", "HeartbeatInterval"], **common("get-some")),
        "accepted",
        configurationKey=[config[0]],
        unknownKey=["Foo"],
    )
    change = c.RequestChangeConfiguration(key="HeartbeatInterval", value="60", **common("chg"))
    await station.answered(change, "accepted", status="Accepted")
    nope = c.RequestChangeConfiguration(key="Bar", value="1", **common("chg-bar"))
    await station.answered(nope, "rejected", status="NotSupported")
    await station.answered(reserve("res-1", reservation_id=1), "accepted", status="Accepted")
    await station.answered(
        reserve("res-2", connector=2, tag="B", reservation_id=2), "rejected", status="Occupied"
    )
    await station.answered(
        c.RequestSendLocalList(
            update_type="Full", registry={"A": {"status": "Accepted"}}, **common("list")
        ),
        "accepted",
        status="Accepted",
    )
    await station.answered(c.RequestGetLocalListVersion(**common("ver")), "accepted", listVersion=4)
    await station.answered(
        c.RequestSetChargingProfile(
            connector_id=0, cs_charging_profiles=DEFAULT_PROFILE, **common("set")
        ),
        "accepted",
        status="Accepted",
    )
    start = c.RequestRemoteStart(
        connector_id=1, id_tag="TAG", charging_profile=TX_PROFILE, **common("start")
    )
    await station.answered(start, "accepted", status="Accepted")
    return station


@pytest.mark.parametrize("batch_size", [1, 1000])
async def test_what_the_station_answered_shows_in_the_read_models(batch_size: int) -> None:
    documents = await project((await history()).store, batch_size)
    configuration = await documents.get(CONFIGURATION, "CP1")
    assert configuration is not None
    assert configuration["keys"] == {
        "HeartbeatInterval": {"value": "60", "readonly": False},
        "NumberOfConnectors": {"value": "2", "readonly": True},
    }
    assert configuration["unknown_keys"] == ["Bar", "Foo"]
    reservations = {
        doc["reservation_id"]: doc for doc in await documents.list(RESERVATIONS, tag="CP1")
    }
    assert (reservations[1]["status"], reservations[2]["status"]) == ("active", "rejected")
    assert [doc["reservation_id"] for doc in await documents.list(LIVE_RESERVATIONS)] == [1]
    local_list = await documents.get(LOCAL_LISTS, "CP1")
    assert local_list is not None
    assert (local_list["installed_version"], local_list["reported_version"]) == (1, 4)
    assert local_list["in_sync"] is False
    assert "reports list version 4" in local_list["out_of_sync_reason"]
    profiles = await documents.get(STATION_PROFILES, "CP1")
    assert profiles is not None
    assert [
        (p["connector_id"], p["profile"]["charging_profile_id"]) for p in profiles["profiles"]
    ] == [
        (0, 4),
        (1, 3),
    ]


async def test_a_session_uses_the_reservation_and_its_end_takes_the_tx_profile_away() -> None:
    station = await history()
    started = c.StartTransaction(**{**vars(start_transaction(7, tag="TAG")), "reservation_id": 1})
    await station.run(started)
    await station.run(stop_transaction(7))
    documents = await project(station.store, 1000)
    reservation = await documents.get(RESERVATIONS, f"{1:012d}")
    assert reservation is not None
    assert (reservation["status"], reservation["transaction_id"]) == ("used", 7)
    assert await documents.list(LIVE_RESERVATIONS) == []
    profiles = await documents.get(STATION_PROFILES, "CP1")
    assert profiles is not None
    assert [p["profile"]["charging_profile_id"] for p in profiles["profiles"]] == [4]


async def test_clearing_by_criteria_removes_what_matches() -> None:
    station = await history()
    clear = c.RequestClearChargingProfile(
        charging_profile_purpose="TxDefaultProfile", **common("clr")
    )
    await station.answered(clear, "accepted", status="Accepted")
    documents = await project(station.store, 3)
    clock = FakeClock()
    views = OperationViews(
        documents, ChargingProfileLibrary(documents, clock), TwinService(documents, clock)
    )
    extras = await views.station_extras("CP1")
    assert [p["profile"]["charging_profile_id"] for p in extras["charging_profiles"]] == [3]
    assert extras["configuration"]["keys"][0] == {
        "key": "HeartbeatInterval",
        "value": "60",
        "readonly": False,
    }
    listed = (await views.reservations(100, station_id="CP1")).items
    assert [r["status"] for r in listed] == ["active", "rejected"]
    assert (await views.reservations(100, station_id="ELSEWHERE")).items == []


async def test_a_2_0_1_set_variables_answer_keeps_each_variable_as_the_station_took_it() -> None:
    station = Station()
    await station.run(boot())
    settings = [
        {"key": "OCPPCommCtrlr/HeartbeatInterval", "value": "60"},
        {"key": "TxCtrlr/EVConnectionTimeOut", "value": "90"},
        {"key": "No/Such", "value": "1"},
    ]
    results = [
        {
            "attributeStatus": status,
            "component": {"name": key.split("/")[0]},
            "variable": {"name": key.split("/")[1]},
        }
        for key, status in zip(
            [s["key"] for s in settings],
            ["Accepted", "RebootRequired", "UnknownVariable"],
            strict=True,
        )
    ]
    several = c201.RequestSetVariables(variables=settings, **common("sv"))
    await station.answered(several, "rejected", setVariableResult=results)
    await station.answered(
        c.RequestGetLocalListVersion(**common("ver")), "accepted", versionNumber=0
    )
    documents = await project(station.store, 1000)
    configuration = await documents.get(CONFIGURATION, "CP1")
    assert configuration is not None
    assert configuration["keys"] == {
        "OCPPCommCtrlr/HeartbeatInterval": {"value": "60", "readonly": False},
        "TxCtrlr/EVConnectionTimeOut": {
            "value": "90",
            "readonly": False,
            "reboot_required": True,
        },
    }
    assert configuration["unknown_keys"] == ["No/Such"]
    local_list = await documents.get(LOCAL_LISTS, "CP1")
    assert local_list is not None and local_list["reported_version"] == 0


async def test_a_2_0_1_base_report_for_every_key_leaves_the_known_keys_as_they_are() -> None:
    """Given keys the station reported, when get-configuration of every key is answered
    with GetBaseReport's status (2.0.1: the keys come by NotifyReport, into the twin),
    then the configuration document keeps them; a 1.6 answer still replaces them all."""
    station = Station()
    await station.run(boot())
    got = {"attributeStatus": "Accepted", "attributeValue": "300"}
    variable = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    some = c.RequestGetConfiguration(key=["OCPPCommCtrlr/HeartbeatInterval"], **common("gv"))
    await station.answered(some, "accepted", getVariableResult=[{**got, **variable}])
    every = c.RequestGetConfiguration(**common("all"))
    await station.answered(every, "accepted", status="Accepted")
    configuration = await (await project(station.store, 1000)).get(CONFIGURATION, "CP1")
    assert configuration is not None
    assert configuration["keys"] == {
        "OCPPCommCtrlr/HeartbeatInterval": {"value": "300", "readonly": False}
    }
    await station.answered(c.RequestGetConfiguration(**common("all-16")), "accepted")
    configuration = await (await project(station.store, 1000)).get(CONFIGURATION, "CP1")
    assert configuration is not None and configuration["keys"] == {}
