"""The device model a simulated OCPP 2.0.1 station reports (mixed into
``SimulatedStation201``): GetBaseReport and GetReport (B07, B08) are answered, then the
report goes as one NotifyReport with the request's id.

Its variables are the charger's settings (``Charger.configuration``, what GetVariables
and SetVariables read and write, by variable name), each under the component that
OCPP 2.0.1's device model puts it in (``COMPONENTS``), and each EVSE's
AvailabilityState. A ConfigurationInventory is the settings, a SummaryInventory the
EVSEs' availability, a FullInventory both. GetReport picks by component (and
variable) and by criteria; it has no problems to report, so ``Problem`` matches
nothing, and a report that matches nothing is an EmptyResultSet.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from chargeledger.simulator.charger_parts import now_iso
from chargeledger.simulator.station_parts201 import StationParts201

COMPONENTS = {
    "HeartbeatInterval": "OCPPCommCtrlr",
    "MeterValueSampleInterval": "SampledDataCtrlr",
    "NumberOfConnectors": "ChargingStation",
    "AuthorizeRemoteTxRequests": "AuthCtrlr",
    "LocalPreAuthorize": "AuthCtrlr",
    "LocalAuthorizeOffline": "AuthCtrlr",
    "AllowOfflineTxForUnknownId": "AuthCtrlr",
    "LocalAuthListEnabled": "LocalAuthListCtrlr",
    "AuthorizationCacheEnabled": "AuthCacheCtrlr",
    "StopTransactionOnInvalidId": "TxCtrlr",
    "TransactionMessageAttempts": "OCPPCommCtrlr",
    "TransactionMessageRetryInterval": "OCPPCommCtrlr",
}
"""The component of each setting the simulator has; one set later goes under
``ChargingStation``."""
CRITERIA_MET = frozenset({"Active", "Available", "Enabled"})


def _data_type(value: str) -> str:
    if value in ("true", "false"):
        return "boolean"
    return "integer" if value.lstrip("-").isdigit() else "string"


def _variable(component: dict[str, Any], name: str, value: str, mutability: str) -> dict[str, Any]:
    return {
        "component": component,
        "variable": {"name": name},
        "variable_attribute": [{"type": "Actual", "value": value, "mutability": mutability}],
        "variable_characteristics": {
            "data_type": _data_type(value),
            "supports_monitoring": False,
        },
    }


def inventory(
    configuration: dict[str, str], availability: dict[int, str], report_base: str
) -> list[dict[str, Any]]:
    """The ReportData of a base report (in snake_case, as the ``ocpp`` package takes it)."""
    settings = [
        _variable({"name": COMPONENTS.get(key, "ChargingStation")}, key, value, "ReadWrite")
        for key, value in configuration.items()
    ]
    evses = [
        _variable({"name": "EVSE", "evse": {"id": evse_id}}, "AvailabilityState", state, "ReadOnly")
        for evse_id, state in availability.items()
    ]
    if report_base == "ConfigurationInventory":
        return settings
    if report_base == "SummaryInventory":
        return evses
    return settings + evses


def _wanted(entry: dict[str, Any], component_variable: list[dict[str, Any]]) -> bool:
    for wanted in component_variable:
        if wanted["component"]["name"] != entry["component"]["name"]:
            continue
        name = (wanted.get("variable") or {}).get("name")
        if name in (None, entry["variable"]["name"]):
            return True
    return False


def picked(
    everything: list[dict[str, Any]],
    component_variable: list[dict[str, Any]] | None,
    component_criteria: list[str] | None,
) -> list[dict[str, Any]]:
    """The part of the inventory a GetReport asks for."""
    if component_criteria and not CRITERIA_MET & set(component_criteria):
        return []
    if not component_variable:
        return everything
    return [entry for entry in everything if _wanted(entry, component_variable)]


class Reports201(StationParts201):
    def _inventory(self, report_base: str) -> list[dict[str, Any]]:
        availability = {
            evse_id: "Occupied" if evse_id in self.transactions.sessions else "Available"
            for evse_id in self.evses
        }
        return inventory(self.charger.configuration, availability, report_base)

    async def _notify_report(self, request_id: int, report: list[dict[str, Any]]) -> None:
        await self.call(
            call.NotifyReport(
                request_id=request_id,
                generated_at=now_iso(),
                seq_no=0,
                report_data=report,
                tbc=False,
            )
        )

    @on(Action.get_base_report)
    async def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> Any:
        self._count("GetBaseReport")
        return call_result.GetBaseReport(status="Accepted")

    @after(Action.get_base_report)
    async def after_get_base_report(self, request_id: int, report_base: str, **_: Any) -> None:
        self._spawn(self._notify_report(request_id, self._inventory(report_base)))

    def _report(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        return picked(
            self._inventory("FullInventory"),
            payload.get("component_variable"),
            payload.get("component_criteria"),
        )

    @on(Action.get_report)
    async def on_get_report(self, request_id: int, **payload: Any) -> Any:
        self._count("GetReport")
        found = bool(self._report(payload))
        return call_result.GetReport(status="Accepted" if found else "EmptyResultSet")

    @after(Action.get_report)
    async def after_get_report(self, request_id: int, **payload: Any) -> None:
        report = self._report(payload)
        if report:
            self._spawn(self._notify_report(request_id, report))
