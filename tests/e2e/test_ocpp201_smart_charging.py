"""End to end: smart charging with an OCPP 2.0.1 station (the ``ocpp`` package's v201
``ChargePoint``): set, get, clear a charging profile and ask the composite schedule,
on the same endpoint and bodies as 1.6; accepted, rejected, a CALLERROR, offline."""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call

from tests.e2e.conftest import ServedNode, eventually
from tests.e2e.station201 import CALLERROR, command, connected_201, ended

TX_DEFAULT = {
    "charging_profile_id": 11,
    "stack_level": 0,
    "charging_profile_purpose": "TxDefaultProfile",
    "charging_profile_kind": "Absolute",
    "charging_schedule": {
        "charging_rate_unit": "A",
        "charging_schedule_period": [
            {"start_period": 0, "limit": 16},
            {"start_period": 3600, "limit": 8.5, "number_phases": 3},
        ],
    },
}


async def test_a_profile_is_set_reported_scheduled_and_cleared(node: ServedNode) -> None:
    async with connected_201(node, "SC-1") as station, node.client() as api:
        await station.boot()
        await station.status(1, 1, "Available")
        body = {"connector_id": 1, "cs_charging_profiles": TX_DEFAULT}
        response = await command(api, "SC-1", "set-charging-profile", "scp-1", **body)
        assert response.status_code == 202, response.text
        await ended(api, "scp-1", "accepted")
        [(action, sent)] = station.received
        assert action == "SetChargingProfile" and sent["evse_id"] == 1
        profile = sent["charging_profile"]
        assert (profile["id"], profile["charging_profile_purpose"]) == (11, "TxDefaultProfile")
        [schedule] = profile["charging_schedule"]
        assert schedule["charging_schedule_period"][1] == {
            "start_period": 3600,
            "limit": 8.5,
            "number_phases": 3,
        }
        shown = (await api.get("/api/stations/SC-1")).json()["charging_profiles"]
        assert [p["profile"]["charging_profile_id"] for p in shown] == [11]

        await command(api, "SC-1", "get-charging-profiles", "gcp-1", connector_id=1)
        view = await ended(api, "gcp-1", "accepted")
        assert "ReportChargingProfiles" in view["detail"]
        assert station.received[-1][1]["evse_id"] == 1

        async def reported() -> Any:
            notices = (await api.get("/api/stations/SC-1")).json().get("notices") or []
            return [n for n in notices if n["kind"] == "charging-profile"]

        [notice] = await eventually(reported)
        assert notice["what"].startswith("EVSE 1 (CSO): TxDefaultProfile 3")

        await command(api, "SC-1", "get-composite-schedule", "gcs-1", connector_id=1, duration=60)
        await ended(api, "gcs-1", "accepted")
        assert station.received[-1] == ("GetCompositeSchedule", {"duration": 60, "evse_id": 1})

        await command(api, "SC-1", "clear-charging-profile", "ccp-1", id=11)
        await ended(api, "ccp-1", "accepted")
        assert station.received[-1] == ("ClearChargingProfile", {"charging_profile_id": 11})
        assert (await api.get("/api/stations/SC-1")).json()["charging_profiles"] == []


async def test_refusals_a_callerror_and_an_offline_station(node: ServedNode) -> None:
    async with connected_201(node, "SC-2") as station, node.client() as api:
        await station.boot()
        station.answers.update(
            SetChargingProfile="Rejected",
            ClearChargingProfile="Unknown",
            GetChargingProfiles="NoProfiles",
            GetCompositeSchedule=CALLERROR,
        )
        body = {"connector_id": 0, "cs_charging_profiles": TX_DEFAULT}
        await command(api, "SC-2", "set-charging-profile", "r-1", **body)
        assert "refused the charging profile" in (await ended(api, "r-1", "rejected"))["detail"]
        await command(api, "SC-2", "clear-charging-profile", "r-2", connector_id=1)
        assert "no charging profile" in (await ended(api, "r-2", "rejected"))["detail"]
        await command(api, "SC-2", "get-charging-profiles", "r-3", stack_level=0)
        assert "no charging profile" in (await ended(api, "r-3", "accepted"))["detail"]
        await command(api, "SC-2", "get-composite-schedule", "r-4", connector_id=1, duration=9)
        assert (await ended(api, "r-4", "failed"))["error_code"] == "InternalError"
        bad = {**TX_DEFAULT, "charging_profile_purpose": "TxProfile"}  # no transaction
        refused = await command(
            api, "SC-2", "set-charging-profile", "r-5", connector_id=1, cs_charging_profiles=bad
        )
        assert refused.status_code in (409, 422), refused.text
    async with node.client() as api:  # the station is gone: sent after its next boot
        queued = await command(api, "SC-2", "get-charging-profiles", "off-1")
        assert queued.json()["status"] == "requested"
        async with connected_201(node, "SC-2") as station:
            await station.boot()
            await ended(api, "off-1", "accepted")
            assert [a for a, _ in station.received] == ["GetChargingProfiles"]


async def test_a_limit_set_and_cleared_from_outside_is_shown(node: ServedNode) -> None:
    async with connected_201(node, "SC-4") as station, node.client() as api:
        await station.boot()
        schedule = {
            "id": 1,
            "charging_rate_unit": "W",
            "charging_schedule_period": [{"start_period": 0, "limit": 7400}],
        }
        limit = {"charging_limit_source": "EMS", "is_grid_critical": True}
        await station.call(
            call.NotifyChargingLimit(charging_limit=limit, evse_id=2, charging_schedule=[schedule])
        )
        await station.call(call.ClearedChargingLimit(charging_limit_source="SO"))

        async def limits() -> Any:
            notices = (await api.get("/api/stations/SC-4")).json().get("notices") or []
            found = [n["what"] for n in notices if n["kind"] == "charging-limit"]
            return found if len(found) == 2 else None

        assert sorted(await eventually(limits)) == [
            "EVSE 2: limit set by EMS, grid critical; 0 s 7400 W",
            "the station: limit of SO cleared",
        ]
