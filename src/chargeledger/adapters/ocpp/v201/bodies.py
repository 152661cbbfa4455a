"""Bodies of ``POST /api/stations/{id}/commands/{name}`` for the operations only OCPP
2.0.1 has, in snake_case as 1.6's (``v16/bodies.py``); the operations both versions
have take 1.6's bodies. A variable is named ``Component/Variable``; an EVSE is named
``connector_id``, as in 1.6's bodies (the domain's connector is 2.0.1's EVSE)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from chargeledger.adapters.ocpp.schemas import MAX_INTEGER, MIN_INTEGER
from chargeledger.adapters.ocpp.spec import CommandBody
from chargeledger.adapters.ocpp.v16.bodies import ConnectorId, OcppInteger, Purpose

VariableKey = Annotated[str, StringConstraints(min_length=3, max_length=101)]
"""``Component/Variable``, each part 1 to 50 characters (checked by the domain)."""


class GetTransactionStatusBody(CommandBody):
    transaction_id: Annotated[int, Strict(), Field(ge=MIN_INTEGER, le=MAX_INTEGER)] | None = Field(
        default=None, description="ours; leave out to ask about any transaction"
    )


class GetBaseReportBody(CommandBody):
    report_base: Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"] = Field(
        description="which part of its device model the station reports (NotifyReport)"
    )


class GetChargingProfilesBody(CommandBody):
    connector_id: ConnectorId | None = Field(
        default=None, ge=0, description="the EVSE; 0 the station's own; leave out for all"
    )
    charging_profile_purpose: Purpose | None = None
    stack_level: OcppInteger | None = Field(default=None, ge=0)
    charging_profile_id: list[OcppInteger] | None = Field(default=None, min_length=1)
    charging_limit_source: list[Literal["EMS", "Other", "SO", "CSO"]] | None = Field(
        default=None, min_length=1, max_length=4
    )


class GetReportBody(CommandBody):
    component_variable: (
        list[Annotated[str, StringConstraints(min_length=1, max_length=101)]] | None
    ) = Field(
        default=None,
        min_length=1,
        description="Component or Component/Variable keys; leave out for every component",
    )
    component_criteria: list[Literal["Active", "Available", "Enabled", "Problem"]] | None = Field(
        default=None, min_length=1, max_length=4
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class VariableSetting(_Strict):
    key: VariableKey
    value: Annotated[str, StringConstraints(max_length=1000)]


class SetVariablesBody(CommandBody):
    variables: list[VariableSetting] = Field(
        min_length=1, max_length=100, description="each key once; set in one SetVariables"
    )


class Vpn(_Strict):
    server: Annotated[str, StringConstraints(max_length=512)]
    user: Annotated[str, StringConstraints(max_length=20)]
    group: Annotated[str, StringConstraints(max_length=20)] | None = None
    password: Annotated[str, StringConstraints(max_length=20)]
    key: Annotated[str, StringConstraints(max_length=255)]
    type: Literal["IKEv2", "IPSec", "L2TP", "PPTP"]


class Apn(_Strict):
    apn: Annotated[str, StringConstraints(max_length=512)]
    apn_user_name: Annotated[str, StringConstraints(max_length=20)] | None = None
    apn_password: Annotated[str, StringConstraints(max_length=20)] | None = None
    sim_pin: OcppInteger | None = None
    preferred_network: Annotated[str, StringConstraints(max_length=6)] | None = None
    use_only_preferred_network: bool | None = None
    apn_authentication: Literal["CHAP", "NONE", "PAP", "AUTO"]


class NetworkConnectionData(_Strict):
    """OCPP 2.0.1's ``NetworkConnectionProfileType`` in snake_case. Its secrets (the
    VPN's password and key, the APN's password and SIM PIN) never enter the event log:
    ``application/command_secrets.py`` keeps them for the CALL until the command ends."""

    ocpp_version: Literal["OCPP12", "OCPP15", "OCPP16", "OCPP20"]
    ocpp_transport: Literal["JSON", "SOAP"]
    ocpp_csms_url: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    message_timeout: OcppInteger = Field(description="seconds")
    security_profile: OcppInteger = Field(ge=0, le=3)
    ocpp_interface: Literal[
        "Wired0",
        "Wired1",
        "Wired2",
        "Wired3",
        "Wireless0",
        "Wireless1",
        "Wireless2",
        "Wireless3",
    ]
    vpn: Vpn | None = None
    apn: Apn | None = None


class SetNetworkProfileBody(CommandBody):
    configuration_slot: OcppInteger = Field(ge=0)
    connection_data: NetworkConnectionData
