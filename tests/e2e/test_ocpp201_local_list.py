"""End to end: the local authorization list with an OCPP 2.0.1 station: the list built
as for 1.6 (explicit entries, the registry) goes out as idToken objects with their
idTokenInfo; accepted, rejected, a CALLERROR, offline."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201 import call_result
from ocpp.v201.enums import Action

from tests.e2e.conftest import ServedNode, eventually
from tests.e2e.station201 import CALLERROR, Station201, command, connected_201, ended


class ListKeeping201(Station201):
    """Reports the list version it holds (``version``)."""

    version = 0

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self, **payload: Any) -> Any:
        self._got("GetLocalListVersion", payload)
        return call_result.GetLocalListVersion(version_number=self.version)


async def local_list(api: Any, station_id: str) -> Any:
    return (await api.get(f"/api/stations/{station_id}")).json()["local_list"]


async def test_a_list_sent_to_a_2_0_1_station_is_installed_and_its_version_checked(
    node: ServedNode,
) -> None:
    async with (
        connected_201(node, "LL-1", station_type=ListKeeping201) as station,
        node.client() as api,
    ):
        await station.boot()
        entries = [
            {"id_tag": "CARD-1", "expiry": "2099-01-01T00:00:00Z", "parent_id_tag": "FLEET"},
            {"id_tag": "CARD-2", "status": "Blocked"},
        ]
        response = await command(
            api, "LL-1", "send-local-list", "sll-1", update_type="Full", entries=entries
        )
        assert response.status_code == 202, response.text
        await ended(api, "sll-1", "accepted")
        [(action, sent)] = station.received
        assert action == "SendLocalList" and sent["update_type"] == "Full"
        version = sent["version_number"]
        assert version >= 1
        by_token = {e["id_token"]["id_token"]: e for e in sent["local_authorization_list"]}
        assert by_token["CARD-1"]["id_token"]["type"] == "ISO14443"
        assert by_token["CARD-1"]["id_token_info"]["group_id_token"] == {
            "id_token": "FLEET",
            "type": "Central",
        }
        assert by_token["CARD-2"]["id_token_info"] == {"status": "Blocked"}

        async def installed() -> Any:
            shown = await local_list(api, "LL-1")
            return shown if shown["installed_version"] == version else None

        await eventually(installed)
        station.version = version + 5  # the station's list is not ours any more
        await command(api, "LL-1", "get-local-list-version", "glv-1")
        view = await ended(api, "glv-1", "accepted")
        assert view["result"] == {"versionNumber": version + 5}

        async def out_of_sync() -> Any:
            shown = await local_list(api, "LL-1")
            return shown if shown["in_sync"] is False else None

        shown = await eventually(out_of_sync)
        assert shown["reported_version"] == version + 5


async def test_refusals_a_callerror_and_an_offline_station(node: ServedNode) -> None:
    async with connected_201(node, "LL-2") as station, node.client() as api:
        await station.boot()
        await api.put("/api/id-tags/T-1", json={"status": "Accepted"})
        await command(api, "LL-2", "send-local-list", "a-1", update_type="Full")
        await ended(api, "a-1", "accepted")  # the registry's tags
        [(_, registry)] = station.received
        assert [t["id_token"]["id_token"] for t in registry["local_authorization_list"]] == ["T-1"]
        station.answers["SendLocalList"] = "VersionMismatch"
        await command(api, "LL-2", "send-local-list", "r-1", update_type="Differential")
        assert "send a Full list" in (await ended(api, "r-1", "rejected"))["detail"]
        station.answers["SendLocalList"] = CALLERROR
        await command(api, "LL-2", "send-local-list", "r-2", update_type="Full")
        assert (await ended(api, "r-2", "failed"))["error_code"] == "InternalError"
    async with node.client() as api:
        queued = await command(api, "LL-2", "send-local-list", "off-1", update_type="Full")
        assert queued.json()["status"] == "requested"
        async with connected_201(node, "LL-2") as station:
            await station.boot()
            await ended(api, "off-1", "accepted")
            assert [a for a, _ in station.received] == ["SendLocalList"]
