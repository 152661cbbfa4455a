"""Operator commands of the operations only OCPP 2.0.1 has, beside ``commands`` (which
holds those of both versions and 2.0.1's first two, get-base-report and
get-transaction-status). A 1.6 station refuses each (409 NotSupportedByProtocol)."""

from __future__ import annotations

from dataclasses import dataclass

from chargeledger.domain.commands import OperatorCommand
from chargeledger.domain.configuration import NO_CONFIGURATION, ConfigurationSnapshot
from chargeledger.domain.json_object import JsonObject


@dataclass(frozen=True, kw_only=True)
class RequestGetChargingProfiles(OperatorCommand):
    """The station reports the charging profiles it holds that match every criterion
    given (ReportChargingProfiles); ``connector_id`` is the EVSE, 0 the station's own."""

    connector_id: int | None = None
    charging_profile_purpose: str | None = None
    stack_level: int | None = None
    charging_profile_id: list[int] | None = None
    charging_limit_source: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class RequestGetReport(OperatorCommand):
    """The station reports the part of its device model named (NotifyReport):
    ``component_variable`` as ``Component`` or ``Component/Variable`` keys, and
    ``component_criteria`` (Active, Available, Enabled, Problem); none: all of it."""

    component_variable: list[str] | None = None
    component_criteria: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class RequestSetVariables(OperatorCommand):
    """Several variables set in one SetVariables: ``variables`` is ``[{"key", "value"}]``,
    each key written ``Component/Variable``, each key once. ``configuration``: what the
    station reported of its variables, looked up before deciding."""

    variables: list[dict[str, str]]
    configuration: ConfigurationSnapshot = NO_CONFIGURATION


@dataclass(frozen=True, kw_only=True)
class RequestSetNetworkProfile(OperatorCommand):
    """SetNetworkProfile: the connection data (snake_case, as the API body) stored in
    the station's ``configuration_slot``."""

    configuration_slot: int
    connection_data: JsonObject
