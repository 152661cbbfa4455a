"""End to end: OCPP 2.0.1's own device-model and network operations, and a reset of one
EVSE: get-report (answered by NotifyReport), set-variables (several in one
SetVariables), set-network-profile; accepted, rejected, a CALLERROR, offline, and a
1.6 station refusing what only 2.0.1 says."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import ServedNode, connected_station, eventually
from tests.e2e.station201 import CALLERROR, command, connected_201, ended

NETWORK = {
    "ocpp_version": "OCPP20",
    "ocpp_transport": "JSON",
    "ocpp_csms_url": "wss://csms.example/ocpp",
    "message_timeout": 30,
    "security_profile": 1,
    "ocpp_interface": "Wired0",
}


async def test_a_report_several_variables_a_network_profile_and_an_evse_reset(
    node: ServedNode,
) -> None:
    async with connected_201(node, "DM-1") as station, node.client() as api:
        await station.boot()
        await station.status(1, 1, "Available")
        asked = await command(
            api, "DM-1", "get-report", "gr-1", component_variable=["OCPPCommCtrlr"]
        )
        assert asked.status_code == 202, asked.text
        await ended(api, "gr-1", "accepted")
        [(action, sent)] = station.received
        assert action == "GetReport"
        assert sent["component_variable"] == [{"component": {"name": "OCPPCommCtrlr"}}]

        async def reported() -> Any:
            return (await api.get("/api/stations/DM-1")).json().get("device_model")

        [variable] = await eventually(reported)
        assert variable["key"] == "OCPPCommCtrlr/HeartbeatInterval"

        settings = [
            {"key": "OCPPCommCtrlr/HeartbeatInterval", "value": "60"},
            {"key": "TxCtrlr/EVConnectionTimeOut", "value": "90"},
        ]
        await command(api, "DM-1", "set-variables", "sv-1", variables=settings)
        await ended(api, "sv-1", "accepted")
        assert station.received[-1][0] == "SetVariables"
        assert len(station.received[-1][1]["set_variable_data"]) == 2

        async def configured() -> Any:
            shown = (await api.get("/api/stations/DM-1")).json().get("configuration") or {}
            return {k["key"]: k["value"] for k in shown.get("keys", [])} or None

        assert await eventually(configured) == {s["key"]: s["value"] for s in settings}

        await command(
            api,
            "DM-1",
            "set-network-profile",
            "np-1",
            configuration_slot=2,
            connection_data=NETWORK,
        )
        view = await ended(api, "np-1", "accepted")
        assert "slot 2" in view["detail"]
        sent = station.received[-1][1]
        assert sent["configuration_slot"] == 2
        assert sent["connection_data"]["ocpp_csms_url"] == "wss://csms.example/ocpp"

        await command(api, "DM-1", "reset", "rs-1", type="Soft", evse_id=1)
        await ended(api, "rs-1", "accepted")
        assert station.received[-1] == ("Reset", {"type": "OnIdle", "evse_id": 1})


async def test_refusals_a_callerror_offline_and_a_1_6_station(node: ServedNode) -> None:
    async with (
        connected_201(node, "DM-2") as station,
        connected_station(node, "DM-16") as old,
        node.client() as api,
    ):
        await station.boot()
        await old.boot()
        station.answers.update(
            GetReport="NotSupported", SetVariables="UnknownVariable", SetNetworkProfile=CALLERROR
        )
        await command(api, "DM-2", "get-report", "r-1", component_criteria=["Problem"])
        await ended(api, "r-1", "rejected")
        settings = [{"key": "A/B", "value": "1"}, {"key": "C/D", "value": "2"}]
        await command(api, "DM-2", "set-variables", "r-2", variables=settings)
        assert "refused some variables" in (await ended(api, "r-2", "rejected"))["detail"]

        async def unknown() -> Any:
            shown = (await api.get("/api/stations/DM-2")).json().get("configuration") or {}
            return shown.get("unknown_keys")

        assert await eventually(unknown) == ["A/B", "C/D"]
        again = await command(api, "DM-2", "set-variables", "r-2b", variables=settings[:1])
        assert again.status_code == 409, again.text  # the station said it has no A/B
        network = {"configuration_slot": 1, "connection_data": NETWORK}
        await command(api, "DM-2", "set-network-profile", "r-3", **network)
        assert (await ended(api, "r-3", "failed"))["error_code"] == "InternalError"
        twice = [{"key": "A/B", "value": "1"}, {"key": "A/B", "value": "2"}]
        refused = await command(api, "DM-2", "set-variables", "r-4", variables=twice)
        assert refused.status_code in (409, 422), refused.text
        for name, body in (
            ("get-report", {}),
            ("set-variables", {"variables": settings}),
            ("set-network-profile", network),
        ):
            unspoken = await command(api, "DM-16", name, f"16-{name}", **body)
            assert unspoken.status_code == 409
            assert unspoken.json()["error"] == "NotSupportedByProtocol"
        whole = await command(api, "DM-16", "reset", "16-reset", type="Soft", evse_id=1)
        assert whole.status_code == 409 and "evse_id" in whole.json()["detail"]
        assert old.received == []
    async with node.client() as api:
        queued = await command(api, "DM-2", "get-report", "off-1")
        assert queued.json()["status"] == "requested"
        async with connected_201(node, "DM-2") as station:
            await station.boot()
            await ended(api, "off-1", "accepted")
            assert [a for a, _ in station.received] == ["GetReport"]


async def test_get_configuration_of_every_key_is_the_configuration_inventory_report(
    node: ServedNode,
) -> None:
    async with connected_201(node, "DM-3") as station, node.client() as api:
        await station.boot()
        key = "OCPPCommCtrlr/HeartbeatInterval"
        await command(api, "DM-3", "get-configuration", "gc-some", key=[key])
        await ended(api, "gc-some", "accepted")
        asked = await command(api, "DM-3", "get-configuration", "gc-all")
        assert asked.status_code == 202, asked.text
        view = await ended(api, "gc-all", "accepted")
        assert view["result"] == {"status": "Accepted"}
        assert "ConfigurationInventory" in view["detail"] and "device_model" in view["detail"]
        action, sent = station.received[-1]
        assert action == "GetBaseReport"
        assert sent["report_base"] == "ConfigurationInventory"
        assert isinstance(sent["request_id"], int)

        async def reported() -> Any:
            return (await api.get("/api/stations/DM-3")).json().get("device_model")

        [variable] = await eventually(reported)  # the NotifyReport the station sent
        assert (variable["key"], variable["value"]) == (key, "300")
        shown = (await api.get("/api/stations/DM-3")).json()["configuration"]
        assert shown["keys"] == [{"key": key, "value": "300", "readonly": False}]  # kept

        station.answers["GetBaseReport"] = "NotSupported"
        await command(api, "DM-3", "get-configuration", "gc-refused")
        refused = await ended(api, "gc-refused", "rejected")
        assert "cannot report its ConfigurationInventory" in refused["detail"]
        assert [a for a, _ in station.received] == ["GetVariables", *["GetBaseReport"] * 2]
