"""The business of the six profiles end to end: reservations (refusing competitors,
used by a session, cancelled, expired, whole-station), stored and sent charging
profiles, and the local list built from the id-tag registry; bad input answered
422 or 409 naming the problem. One served node for the module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ocpp.v16 import call

from tests.e2e.conftest import ServedNode, eventually
from tests.e2e.profile_support import (
    in_,
    post,
    ready_station,
    send,
    shared_node,
    station_view,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    node = shared_node(tmp_path_factory, "business")
    try:
        yield node
    finally:
        node.stop()


async def reservations(api: Any, station_id: str) -> dict[str, dict[str, Any]]:
    listed = (await api.get("/api/reservations", params={"station": station_id})).json()
    return {r["id_tag"]: r for r in listed}


async def reservation_reaches(api: Any, station_id: str, tag: str, status: str) -> dict[str, Any]:
    async def reached() -> Any:
        found = (await reservations(api, station_id)).get(tag)
        return found if found and found["status"] == status else None

    result: dict[str, Any] = await eventually(reached)
    return result


async def test_a_reservation_refuses_other_id_tags_and_is_used_by_its_own_session(
    served: ServedNode,
) -> None:
    async with ready_station(served, "B-RES") as station, served.client() as api:
        view = await send(
            api,
            "B-RES",
            "reserve-now",
            {"connector_id": 1, "expiry_date": in_(600), "id_tag": "OWNER"},
            "b-res-1",
        )
        assert view["status"] == "accepted"
        reserved = await reservation_reaches(api, "B-RES", "OWNER", "active")
        rid = reserved["reservation_id"]
        for name, body in [
            ("remote-start", {"connector_id": 1, "id_tag": "INTRUDER"}),
            ("reserve-now", {"connector_id": 1, "expiry_date": in_(600), "id_tag": "INTRUDER"}),
        ]:
            refused = await post(api, "B-RES", name, body)
            assert (refused.status_code, refused.json()["error"]) == (409, "ConnectorReserved")
            assert f"reservation {rid}" in refused.json()["detail"]
        elsewhere = await send(
            api, "B-RES", "remote-start", {"connector_id": 2, "id_tag": "INTRUDER"}, "b-other"
        )
        assert elsewhere["status"] == "accepted"
        own = await send(
            api, "B-RES", "remote-start", {"connector_id": 1, "id_tag": "OWNER"}, "b-own"
        )
        assert own["status"] == "accepted"
        started = await station.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="OWNER",
                meter_start=0,
                timestamp="2026-05-01T10:00:00Z",
                reservation_id=rid,
            )
        )
        used = await reservation_reaches(api, "B-RES", "OWNER", "used")
        assert used["transaction_id"] == started.transaction_id
        history = [e["type"] for e in (await api.get("/api/stations/B-RES/events")).json()]
        assert history.count("ReservationConfirmed") == 1
        assert history[-1] == "ReservationEnded"


async def test_a_cancelled_reservation_ends_and_cannot_be_cancelled_twice(
    served: ServedNode,
) -> None:
    async with ready_station(served, "B-CAN") as station, served.client() as api:
        await send(
            api,
            "B-CAN",
            "reserve-now",
            {"connector_id": 2, "expiry_date": in_(600), "id_tag": "T"},
            "b-can-r",
        )
        rid = (await reservation_reaches(api, "B-CAN", "T", "active"))["reservation_id"]
        view = await send(api, "B-CAN", "cancel-reservation", {"reservation_id": rid}, "b-can-c")
        assert view["status"] == "accepted"
        assert station.of("CancelReservation") == [{"reservation_id": rid}]
        cancelled = await reservation_reaches(api, "B-CAN", "T", "cancelled")
        assert cancelled["detail"] == "cancelled by b-can-c"
        again = await post(api, "B-CAN", "cancel-reservation", {"reservation_id": rid})
        assert (again.status_code, again.json()["error"]) == (409, "ReservationNotFound")
        free = await send(
            api, "B-CAN", "remote-start", {"connector_id": 2, "id_tag": "ANYONE"}, "b-can-s"
        )
        assert free["status"] == "accepted"


async def test_a_reservation_ends_at_its_expiry_date(served: ServedNode) -> None:
    async with ready_station(served, "B-EXP"), served.client() as api:
        body = {"connector_id": 1, "expiry_date": in_(1.5), "id_tag": "SOON"}
        await send(api, "B-EXP", "reserve-now", body, "b-exp")
        expired = await reservation_reaches(api, "B-EXP", "SOON", "expired")
        assert expired["detail"].startswith("expired at")
        free = await send(
            api, "B-EXP", "remote-start", {"connector_id": 1, "id_tag": "OTHER"}, "b-exp-s"
        )
        assert free["status"] == "accepted"


async def test_a_whole_station_reservation_keeps_a_connector_for_its_tag(
    served: ServedNode,
) -> None:
    async with ready_station(served, "B-ALL") as station, served.client() as api:
        await send(
            api,
            "B-ALL",
            "reserve-now",
            {"connector_id": 0, "expiry_date": in_(600), "id_tag": "VIP"},
            "b-all",
        )
        await reservation_reaches(api, "B-ALL", "VIP", "active")
        await station.call(
            call.StartTransaction(
                connector_id=2, id_tag="SOMEONE", meter_start=0, timestamp="2026-05-01T10:00:00Z"
            )
        )

        response = await post(api, "B-ALL", "remote-start", {"connector_id": 1, "id_tag": "OTHER"})
        assert response.status_code == 409
        assert response.json()["error"] == "ConnectorReserved"
        assert "reserved as a whole" in response.json()["detail"]


async def test_bad_reservations_are_refused_naming_the_problem(served: ServedNode) -> None:
    async with ready_station(served, "B-BAD"), served.client() as api:
        past = await post(
            api,
            "B-BAD",
            "reserve-now",
            {"connector_id": 1, "expiry_date": "2020-01-01T00:00:00Z", "id_tag": "T"},
        )
        assert (past.status_code, past.json()["error"]) == (409, "ExpiryInThePast")
        assert "expiry_date 2020-01-01T00:00:00Z is not after now" in past.json()["detail"]
        for body, field in [
            ({"connector_id": 1, "expiry_date": "someday", "id_tag": "T"}, "expiry_date"),
            ({"connector_id": -1, "expiry_date": in_(60), "id_tag": "T"}, "connector_id"),
            ({"connector_id": 1, "expiry_date": in_(60), "id_tag": "T" * 21}, "id_tag"),
            (
                {"connector_id": 1, "expiry_date": in_(60), "id_tag": "T", "reservation_id": 3},
                "reservation_id",
            ),
        ]:
            response = await post(api, "B-BAD", "reserve-now", body)
            assert response.status_code == 422, body
            assert field in response.json()["detail"], body
        unknown = await post(
            api, "B-BAD", "reserve-now", {"connector_id": 7, "expiry_date": in_(60), "id_tag": "T"}
        )
        assert (unknown.status_code, unknown.json()["error"]) == (409, "UnknownConnector")


# --- smart charging ---------------------------------------------------------------------


def profile(purpose: str = "TxDefaultProfile", **changes: Any) -> dict[str, Any]:
    return {
        "stack_level": 1,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": "Absolute",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "charging_schedule_period": [
                {"start_period": 0, "limit": 32},
                {"start_period": 900, "limit": 16},
            ],
        },
        **changes,
    }


async def test_stored_profiles_are_checked_listed_sent_by_id_and_deleted(
    served: ServedNode,
) -> None:
    async with ready_station(served, "B-SC") as station, served.client() as api:
        stored = await api.put("/api/charging-profiles/7", json=profile())
        assert stored.status_code == 200, stored.text
        assert stored.json()["charging_profile_id"] == 7
        assert [
            p["charging_profile_id"] for p in (await api.get("/api/charging-profiles")).json()
        ] == [7]
        tx = await api.put("/api/charging-profiles/8", json=profile("TxProfile", stack_level=0))
        assert tx.status_code == 200, tx.text

        view = await send(
            api,
            "B-SC",
            "set-charging-profile",
            {"connector_id": 1, "charging_profile_id": 7},
            "b-sc-set",
        )
        assert view["status"] == "accepted"
        sent = station.of("SetChargingProfile")[0]
        assert sent["connector_id"] == 1
        assert sent["cs_charging_profiles"]["charging_profile_id"] == 7
        assert sent["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"][1] == {
            "start_period": 900,
            "limit": 16,
        }

        start = await send(
            api,
            "B-SC",
            "remote-start",
            {"connector_id": 2, "id_tag": "EV", "charging_profile_id": 8},
            "b-sc-rs",
        )
        assert start["status"] == "accepted"
        assert (
            station.received[-1][1]["charging_profile"]["charging_profile_purpose"] == "TxProfile"
        )

        schedule = await send(
            api, "B-SC", "get-composite-schedule", {"connector_id": 1, "duration": 900}, "b-sc-cs"
        )
        assert schedule["result"]["chargingSchedule"]["chargingSchedulePeriod"] == [
            {"startPeriod": 0, "limit": 16.0}
        ]

        clear = {
            "connector_id": 1,
            "charging_profile_purpose": "TxDefaultProfile",
            "stack_level": 1,
        }
        assert (await send(api, "B-SC", "clear-charging-profile", clear, "b-sc-clr"))[
            "status"
        ] == "accepted"
        assert station.of("ClearChargingProfile") == [clear]

        assert (await api.delete("/api/charging-profiles/7")).status_code == 204
        gone = await api.get("/api/charging-profiles/7")
        assert (gone.status_code, gone.json()["error"]) == (404, "ChargingProfileNotFound")
        named = await post(
            api, "B-SC", "set-charging-profile", {"connector_id": 1, "charging_profile_id": 7}
        )
        assert (named.status_code, named.json()["error"]) == (422, "ChargingProfileNotFound")


async def test_a_tx_profile_goes_only_to_a_running_transaction(served: ServedNode) -> None:
    async with ready_station(served, "B-TX") as station, served.client() as api:
        tx = {**profile("TxProfile"), "charging_profile_id": 20}
        missing = await post(
            api, "B-TX", "set-charging-profile", {"connector_id": 1, "cs_charging_profiles": tx}
        )
        assert (missing.status_code, missing.json()["error"]) == (422, "InvalidChargingProfile")
        assert "a TxProfile needs a transaction" in missing.json()["detail"]
        started = await station.call(
            call.StartTransaction(
                connector_id=1, id_tag="EV", meter_start=0, timestamp="2026-05-01T10:00:00Z"
            )
        )
        body = {
            "connector_id": 1,
            "cs_charging_profiles": {**tx, "transaction_id": started.transaction_id},
        }

        async def taken() -> Any:
            response = await post(api, "B-TX", "set-charging-profile", body, "b-tx-set")
            return response if response.status_code == 202 else None

        await eventually(taken)
        view = await eventually(lambda: _terminal(api, "b-tx-set"))
        assert view["status"] == "accepted"
        assert [
            p["profile"]["charging_profile_id"]
            for p in (await station_view(api, "B-TX"))["charging_profiles"]
        ] == [20]
        await station.call(
            call.StopTransaction(
                meter_stop=10,
                timestamp="2026-05-01T11:00:00Z",
                transaction_id=started.transaction_id,
            )
        )

        async def gone_with_the_session() -> Any:
            return (await station_view(api, "B-TX"))["charging_profiles"] == []

        await eventually(gone_with_the_session)


async def _terminal(api: Any, command_id: str) -> Any:
    view = (await api.get(f"/api/commands/{command_id}")).json()
    return view if view.get("status") not in (None, "requested", "dispatched") else None


MALFORMED = [
    (
        {
            "charging_schedule": {
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 60, "limit": 6}],
            }
        },
        "InvalidChargingProfile",
        "charging_schedule_period[0].start_period: the first period must start at 0",
    ),
    (
        {
            "charging_schedule": {
                "charging_rate_unit": "A",
                "charging_schedule_period": [
                    {"start_period": 0, "limit": 6},
                    {"start_period": 0, "limit": 7},
                ],
            }
        },
        "InvalidChargingProfile",
        "charging_schedule_period[1].start_period: 0 must be after",
    ),
    (
        {
            "charging_schedule": {
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": -5}],
            }
        },
        "InvalidChargingProfile",
        "limit: must be a positive number",
    ),
    (
        {
            "charging_schedule": {
                "charging_rate_unit": "kW",
                "charging_schedule_period": [{"start_period": 0, "limit": 5}],
            }
        },
        "ValidationError",
        "charging_rate_unit",
    ),
    ({"stack_level": -2}, "InvalidChargingProfile", "stack_level: must be 0 or more"),
    ({"charging_profile_kind": "Sometimes"}, "ValidationError", "charging_profile_kind"),
]


@pytest.mark.parametrize(("change", "error", "names"), MALFORMED)
async def test_a_malformed_profile_is_422_naming_what_is_wrong(
    served: ServedNode, change: dict[str, Any], error: str, names: str
) -> None:
    async with served.client() as api:
        bad = profile(**change)
        stored = await api.put("/api/charging-profiles/99", json=bad)
        assert (stored.status_code, stored.json()["error"]) == (422, error)
        assert names in stored.json()["detail"]
        sent = await post(
            api,
            "B-SC",
            "set-charging-profile",
            {"connector_id": 0, "cs_charging_profiles": {**bad, "charging_profile_id": 99}},
        )
        assert (sent.status_code, sent.json()["error"]) == (422, error)
        assert names in sent.json()["detail"]
        assert (await api.get("/api/charging-profiles/99")).status_code == 404


# --- the local list ------------------------------------------------------------------


async def put_tag(api: Any, tag: str, status: str = "Accepted") -> None:
    assert (await api.put(f"/api/id-tags/{tag}", json={"status": status})).status_code == 200


async def test_the_local_list_is_built_from_the_registry_and_kept_in_step(
    served: ServedNode,
) -> None:
    async with ready_station(served, "B-LL") as station, served.client() as api:
        for tag in ("LL-A", "LL-B"):
            await put_tag(api, tag)
        early = await post(api, "B-LL", "send-local-list", {"update_type": "Differential"})
        assert (early.status_code, early.json()["error"]) == (409, "LocalListOutOfSync")
        assert (await send(api, "B-LL", "send-local-list", {"update_type": "Full"}, "b-ll-1"))[
            "status"
        ] == "accepted"
        assert station.local_list == {
            "LL-A": {"status": "Accepted"},
            "LL-B": {"status": "Accepted"},
        }

        await put_tag(api, "LL-B", "Blocked")
        await put_tag(api, "LL-C")
        assert (await api.delete("/api/id-tags/LL-A")).status_code == 204
        diff = await send(api, "B-LL", "send-local-list", {"update_type": "Differential"}, "b-ll-2")
        assert diff["status"] == "accepted"
        assert station.of("SendLocalList")[-1] == {
            "list_version": 2,
            "update_type": "Differential",
            "local_authorization_list": [
                {"id_tag": "LL-A"},
                {"id_tag": "LL-B", "id_tag_info": {"status": "Blocked"}},
                {"id_tag": "LL-C", "id_tag_info": {"status": "Accepted"}},
            ],
        }
        assert station.local_list == {"LL-B": {"status": "Blocked"}, "LL-C": {"status": "Accepted"}}

        station.list_version = 9  # changed behind our back
        mismatch = await send(
            api, "B-LL", "send-local-list", {"update_type": "Differential"}, "b-ll-3"
        )
        assert (mismatch["status"], mismatch["result"]) == (
            "rejected",
            {"status": "VersionMismatch"},
        )
        assert "send a Full list" in mismatch["detail"]

        async def out_of_step() -> Any:
            response = await post(api, "B-LL", "send-local-list", {"update_type": "Differential"})
            return response if response.status_code == 409 else None

        assert (await eventually(out_of_step)).json()["error"] == "LocalListOutOfSync"
        full = await send(
            api, "B-LL", "send-local-list", {"update_type": "Full", "list_version": 10}, "b-ll-4"
        )
        assert full["status"] == "accepted"
        version = await send(api, "B-LL", "get-local-list-version", {}, "b-ll-5")
        assert version["result"] == {"listVersion": 10}
        local_list = (await station_view(api, "B-LL"))["local_list"]
        assert (
            local_list["installed_version"],
            local_list["reported_version"],
            local_list["in_sync"],
        ) == (10, 10, True)
