"""Issue 11 items 10 to 12, end to end, with stations made from the ``ocpp`` package's
``ChargePoint``: what OCPP leaves optional stays optional (the station picks the
connector; ids we have not heard of are sent and the station answers), the local
list as an integrator sends it, and charging profiles as one reads and writes them."""

from __future__ import annotations

from typing import Any

import httpx
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from tests.e2e.conftest import ServedNode, Station, connected_station, eventually


async def ended(api: httpx.AsyncClient, key: str) -> dict[str, Any]:
    async def done() -> Any:
        view = (await api.get(f"/api/commands/{key}")).json()
        return view if view["status"] not in ("requested", "dispatched") else None

    result: dict[str, Any] = await eventually(done)
    return result


async def post(
    api: httpx.AsyncClient, station_id: str, name: str, key: str, body: dict[str, Any]
) -> httpx.Response:
    return await api.post(
        f"/api/stations/{station_id}/commands/{name}", json=body, headers={"Idempotency-Key": key}
    )


class TwoConnectorStation(Station):
    """Says it has two connectors; knows no reservation 999; unlocks what it is asked."""

    @on(Action.get_configuration)
    async def on_get_configuration(self, **payload: Any) -> Any:
        return call_result.GetConfiguration(
            configuration_key=[{"key": "NumberOfConnectors", "readonly": True, "value": "2"}]
        )

    @on(Action.unlock_connector)
    async def on_unlock(self, **payload: Any) -> Any:
        self.received.append(("UnlockConnector", payload))
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.cancel_reservation)
    async def on_cancel(self, **payload: Any) -> Any:
        self.received.append(("CancelReservation", payload))
        return call_result.CancelReservation(status="Rejected")


async def test_the_station_picks_the_connector_and_answers_for_ids_we_never_heard_of(
    node: ServedNode,
) -> None:
    async with (
        connected_station(node, "CP-OPT", TwoConnectorStation) as station,
        node.client() as api,
    ):
        await station.boot()
        await station.call(call.StatusNotification(1, "NoError", "Available"))
        assert (await api.put("/api/id-tags/TAG-OPT", json={})).status_code == 200

        started = await post(api, "CP-OPT", "remote-start", "opt-start", {"id_tag": "TAG-OPT"})
        assert started.status_code == 202, started.text
        assert (await ended(api, "opt-start"))["status"] == "accepted"
        (sent,) = [p for name, p in station.received if name == "RemoteStartTransaction"]
        assert sent == {"id_tag": "TAG-OPT"}  # no connectorId: the station picks

        # Connector 2 never reported a status; only what the station said counts.
        config = await post(api, "CP-OPT", "get-configuration", "opt-config", {})
        assert (await ended(api, "opt-config"))["status"] == "accepted", config.text
        unlock = await post(api, "CP-OPT", "unlock-connector", "opt-unlock", {"connector_id": 2})
        assert unlock.status_code == 202, unlock.text
        unlocked = await ended(api, "opt-unlock")
        assert unlocked["result"] == {"status": "Unlocked"}
        beyond = await post(api, "CP-OPT", "unlock-connector", "opt-3", {"connector_id": 3})
        assert beyond.status_code == 409
        assert "NumberOfConnectors 2" in beyond.json()["detail"]

        cancel = await post(
            api, "CP-OPT", "cancel-reservation", "opt-cancel", {"reservation_id": 999}
        )
        assert cancel.status_code == 202, cancel.text
        answered = await ended(api, "opt-cancel")
        assert (answered["status"], answered["result"]) == ("rejected", {"status": "Rejected"})
        assert ("CancelReservation", {"reservation_id": 999}) in station.received


class ListStation(Station):
    """Installs whatever local list it is sent."""

    @on(Action.send_local_list)
    async def on_send_local_list(self, **payload: Any) -> Any:
        self.received.append(("SendLocalList", payload))
        return call_result.SendLocalList(status="Accepted")


async def test_a_local_list_goes_as_given_or_by_name_and_its_version_must_grow(
    node: ServedNode,
) -> None:
    async with connected_station(node, "CP-LL", ListStation) as station, node.client() as api:
        await station.boot()
        assert (await api.put("/api/id-tags/IN-REGISTRY", json={})).status_code == 200
        fleet = {
            "entries": [
                {"id_tag": "A", "status": "Accepted"},
                {"id_tag": "B", "status": "Blocked", "expiry": "2027-01-01T00:00:00Z"},
            ]
        }
        stored = await api.put("/api/local-lists/fleet-a", json=fleet)
        assert stored.status_code == 200, stored.text
        assert [doc["name"] for doc in (await api.get("/api/local-lists")).json()] == ["fleet-a"]

        by_name = await post(
            api, "CP-LL", "send-local-list", "ll-1", {"update_type": "Full", "list_name": "fleet-a"}
        )
        assert by_name.status_code == 202, by_name.text
        assert (await ended(api, "ll-1"))["status"] == "accepted"
        sent = [p for name, p in station.received if name == "SendLocalList"]
        assert sent[-1]["list_version"] == 1
        assert sent[-1]["local_authorization_list"] == [
            {"id_tag": "A", "id_tag_info": {"status": "Accepted"}},
            {
                "id_tag": "B",
                "id_tag_info": {"status": "Blocked", "expiry_date": "2027-01-01T00:00:00Z"},
            },
        ]

        again = await post(
            api,
            "CP-LL",
            "send-local-list",
            "ll-2",
            {"update_type": "Full", "list_version": 1, "list_name": "fleet-a"},
        )
        assert again.status_code == 409
        assert again.json()["error"] == "LocalListVersion"
        assert "not above 1" in again.json()["detail"]

        differential = {
            "update_type": "Differential",
            "entries": [{"id_tag": "A", "status": None}, {"id_tag": "C"}],
        }
        changed = await post(api, "CP-LL", "send-local-list", "ll-3", differential)
        assert changed.status_code == 202, changed.text
        assert (await ended(api, "ll-3"))["status"] == "accepted"
        sent = [p for name, p in station.received if name == "SendLocalList"]
        assert sent[-1]["list_version"] == 2
        assert sent[-1]["update_type"] == "Differential"
        assert sent[-1]["local_authorization_list"] == [
            {"id_tag": "A"},
            {"id_tag": "C", "id_tag_info": {"status": "Accepted"}},
        ]

        missing = await post(
            api, "CP-LL", "send-local-list", "ll-4", {"update_type": "Full", "list_name": "nope"}
        )
        assert missing.status_code == 422
        assert missing.json()["error"] == "LocalListNotFound"


class ProfileStation(Station):
    """Takes any charging profile it is sent."""

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, **payload: Any) -> Any:
        self.received.append(("SetChargingProfile", payload))
        return call_result.SetChargingProfile(status="Accepted")


TX_PROFILE = {
    "name": "evening cap",
    "description": "16 A then 10.5 A for the evening peak",
    "stack_level": 1,
    "charging_profile_purpose": "TxProfile",
    "charging_profile_kind": "Relative",
    "charging_schedule": {
        "charging_rate_unit": "A",
        "charging_schedule_period": [
            {"start_period": 0, "limit": 16},
            {"start_period": 3600, "limit": 10.5},
        ],
    },
}


async def test_a_stored_tx_profile_reads_back_writes_back_and_applies_to_a_session(
    node: ServedNode,
) -> None:
    async with (
        connected_station(node, "CP-PROF", ProfileStation) as station,
        node.client() as api,
    ):
        stored = await api.put("/api/charging-profiles/30", json=TX_PROFILE)
        assert stored.status_code == 200, stored.text
        read = (await api.get("/api/charging-profiles/30")).json()
        assert (read["name"], read["description"]) == (
            TX_PROFILE["name"],
            TX_PROFILE["description"],
        )
        limits = [p["limit"] for p in read["charging_schedule"]["charging_schedule_period"]]
        assert limits == [16, 10.5] and isinstance(limits[0], int)  # as written
        written_back = await api.put("/api/charging-profiles/30", json=read)
        assert written_back.status_code == 200, written_back.text
        assert {k: v for k, v in written_back.json().items() if k != "updated_at"} == {
            k: v for k, v in read.items() if k != "updated_at"
        }

        await station.boot()
        assert (await api.put("/api/id-tags/TAG-P", json={})).status_code == 200
        started = await station.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-P", meter_start=0, timestamp="2026-03-01T10:00:00Z"
            )
        )
        transaction_id = started.transaction_id

        async def known() -> Any:
            return (await api.get(f"/api/transactions/{transaction_id}")).status_code == 200

        await eventually(known)
        applied = await post(
            api,
            "CP-PROF",
            "set-charging-profile",
            "prof-1",
            {"charging_profile_id": 30, "transaction_id": transaction_id},
        )
        assert applied.status_code == 202, applied.text
        assert (await ended(api, "prof-1"))["status"] == "accepted"
        (sent,) = [p for name, p in station.received if name == "SetChargingProfile"]
        assert sent["connector_id"] == 1
        profile = sent["cs_charging_profiles"]
        assert (profile["charging_profile_id"], profile["transaction_id"]) == (30, transaction_id)
        assert "name" not in profile and "description" not in profile

        async def under_profile() -> Any:
            view = (await api.get(f"/api/transactions/{transaction_id}")).json()
            return view if view["charging_profile_id"] == 30 else None

        await eventually(under_profile)
        no_session = await post(
            api,
            "CP-PROF",
            "set-charging-profile",
            "prof-2",
            {"charging_profile_id": 30, "transaction_id": 999_999},
        )
        assert no_session.status_code == 409
        assert no_session.json()["error"] == "TransactionNotFound"
