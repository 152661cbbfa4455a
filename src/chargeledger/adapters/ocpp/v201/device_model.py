"""The device model and the network as OCPP 2.0.1 speaks them, in the operations only
2.0.1 has: get-report (part of the device model, by component and variable or by
criteria; it arrives as NotifyReports, as get-base-report's does), set-variables
(several variables in one SetVariables; get-configuration already gets several in
one GetVariables), and set-network-profile.

A variable is named ``Component/Variable`` as get-configuration and
change-configuration name it (``OCPPCommCtrlr/HeartbeatInterval``); get-report also
takes a bare ``Component`` for all its variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeledger.adapters.ocpp.spec import OperationSpec
from chargeledger.adapters.ocpp.v201 import bodies as b
from chargeledger.domain import operations as o

SET = frozenset({"Accepted", "RebootRequired"})
"""The SetVariables statuses of a variable the station took."""


def variable(key: str) -> dict[str, Any]:
    """``Component/Variable`` as 2.0.1's component and variable."""
    component, _, name = key.rpartition("/")
    if not component or not name:
        raise ValueError(
            f"configuration key {key!r}: write it Component/Variable, "
            "e.g. OCPPCommCtrlr/HeartbeatInterval"
        )
    return {"component": {"name": component}, "variable": {"name": name}}


def _component_variable(key: str) -> dict[str, Any]:
    return variable(key) if "/" in key else {"component": {"name": key}}


def _get_report(payload: Mapping[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {"requestId": payload["request_id"]}
    if payload.get("component_variable"):
        call["componentVariable"] = [_component_variable(k) for k in payload["component_variable"]]
    if payload.get("component_criteria"):
        call["componentCriteria"] = payload["component_criteria"]
    return call


def _set_variables(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "setVariableData": [
            {**variable(setting["key"]), "attributeValue": setting["value"]}
            for setting in payload["variables"]
        ]
    }


def set_variables_status(result: Mapping[str, Any]) -> str:
    """``Accepted`` when the station took every variable, ``RebootRequired`` when some
    wait for a reset, else ``Rejected``: one refused (which, the result tells)."""
    statuses = {entry.get("attributeStatus") for entry in result.get("setVariableResult") or []}
    if not statuses <= SET:
        return "Rejected"
    return "RebootRequired" if "RebootRequired" in statuses else "Accepted"


SPECS: tuple[OperationSpec, ...] = (
    OperationSpec(
        o.GET_REPORT,
        b.GetReportBody,
        "GetReport",
        _get_report,
        frozenset({"Accepted", "EmptyResultSet"}),
        numbered=True,
        details={
            "Accepted": "the station reports (NotifyReport): the station view's device_model",
            "EmptyResultSet": "the station has no variable that matches",
            "NotSupported": "the station does not report by these criteria",
        },
    ),
    OperationSpec(
        o.SET_VARIABLES,
        b.SetVariablesBody,
        "SetVariables",
        _set_variables,
        SET,
        status_of=set_variables_status,
        details={
            "RebootRequired": "stored; some take effect after the station resets "
            "(the result's setVariableResult says which)",
            "Rejected": "the station refused some variables (the result's "
            "setVariableResult says which and why); the others are set",
        },
    ),
    OperationSpec(
        o.SET_NETWORK_PROFILE,
        b.SetNetworkProfileBody,
        "SetNetworkProfile",
        details={
            "Accepted": "stored in slot {configuration_slot}; the station connects with "
            "it once OCPPCommCtrlr/NetworkConfigurationPriority names the slot",
            "Rejected": "the station refused the network profile",
            "Failed": "the station could not store the network profile",
        },
    ),
)
