"""The life of an operator command: it opens with its operation's ``...Requested``
event (a ``CommandRequested``; below, one per command of OCPP 1.6's six profiles and
2.0.1's additions; ``domain/operations`` says which event opens which operation),
then ``CommandDispatched`` before each send, and ends in exactly one shared outcome
event: ``CommandAccepted``, ``CommandRejected``, ``CommandTimedOut``,
``CommandExpired`` or ``CommandFailed`` (ARCHITECTURE.md flow 4). ``CommandMerged``
records a repeated request that opened no second command.

A ``...Requested`` event's ``payload()`` is the command's arguments, named as in the
API body (the reset's and the availability change's ``type`` included)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TypedDict

from chargeledger.domain.charging_profiles import ChargingProfile
from chargeledger.domain.enums import (
    AvailabilityType,
    ChargingProfilePurpose,
    ChargingRateUnit,
    MessageTrigger,
    ReportBase,
    ResetType,
    UpdateType,
)
from chargeledger.domain.event import Event, added_later
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.local_list_events import LocalListEntry


class RequestBasics(TypedDict):
    """What every ``CommandRequested`` carries besides its arguments."""

    command_id: str
    requested_at: str
    expires_at: str


@dataclass(frozen=True, kw_only=True)
class CommandRequested(Event):
    """An operator command decided for the station; the dispatcher sends it after commit."""

    command_id: str
    requested_at: str
    expires_at: str

    def payload(self) -> JsonObject:
        """The command's arguments, named as in the API body (by default every field
        but the three above)."""
        common = ("command_id", "requested_at", "expires_at")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in common}


@dataclass(frozen=True)
class CommandDispatched(Event):
    command_id: str
    attempt: int
    connection_epoch: int
    dispatched_at: str


@dataclass(frozen=True)
class CommandMerged(Event):
    """An operator's request under ``command_id`` (its Idempotency-Key) repeated the
    request ``merged_into`` still open: no second command; both keys lead to that one."""

    command_id: str
    merged_into: str


@dataclass(frozen=True)
class CommandAccepted(Event):
    """``answered_at``: when the station's answer came (``None`` in older events)."""

    command_id: str
    result: JsonObject = field(default_factory=dict)
    detail: str = ""
    answered_at: str | None = None


@dataclass(frozen=True)
class CommandRejected(Event):
    command_id: str
    result: JsonObject = field(default_factory=dict)
    detail: str = ""
    answered_at: str | None = None


@dataclass(frozen=True)
class CommandTimedOut(Event):
    command_id: str
    detail: str = ""
    answered_at: str | None = None


@dataclass(frozen=True)
class CommandExpired(Event):
    command_id: str
    detail: str = ""
    answered_at: str | None = None


@dataclass(frozen=True)
class CommandFailed(Event):
    command_id: str
    detail: str = ""
    error_code: str = ""
    answered_at: str | None = None


TERMINAL_EVENTS: tuple[type[Event], ...] = (
    CommandAccepted,
    CommandRejected,
    CommandTimedOut,
    CommandExpired,
    CommandFailed,
)


@dataclass(frozen=True, kw_only=True)
class RemoteStartRequested(CommandRequested):
    """``charging_profile``: a TxProfile for the session, snake_case, checked;
    ``connector_id`` ``None``: the station picks the connector."""

    connector_id: int | None
    id_tag: str
    charging_profile: ChargingProfile | None = None

    def payload(self) -> JsonObject:
        payload: JsonObject = {"connector_id": self.connector_id, "id_tag": self.id_tag}
        if self.charging_profile is not None:
            payload["charging_profile"] = self.charging_profile
        return payload


@dataclass(frozen=True, kw_only=True)
class RemoteStopRequested(CommandRequested):
    transaction_id: int
    station_transaction_id: str | None = added_later()
    """OCPP 2.0.1: the station's own id of the transaction, which its stop names."""

    def payload(self) -> JsonObject:
        if self.station_transaction_id is None:
            return {"transaction_id": self.transaction_id}
        return {
            "transaction_id": self.transaction_id,
            "station_transaction_id": self.station_transaction_id,
        }


@dataclass(frozen=True, kw_only=True)
class UnlockConnectorRequested(CommandRequested):
    connector_id: int

    def payload(self) -> JsonObject:
        return {"connector_id": self.connector_id}


@dataclass(frozen=True, kw_only=True)
class ResetRequested(CommandRequested):
    reset_type: ResetType
    evse_id: int | None = added_later()
    """OCPP 2.0.1: the EVSE to reset alone; ``None``, the whole station."""

    def payload(self) -> JsonObject:
        if self.evse_id is None:
            return {"type": self.reset_type}
        return {"type": self.reset_type, "evse_id": self.evse_id}


@dataclass(frozen=True, kw_only=True)
class AvailabilityChangeRequested(CommandRequested):
    connector_id: int
    availability_type: AvailabilityType

    def payload(self) -> JsonObject:
        return {"connector_id": self.connector_id, "type": self.availability_type}


@dataclass(frozen=True, kw_only=True)
class TriggerMessageRequested(CommandRequested):
    requested_message: MessageTrigger
    connector_id: int | None = None

    def payload(self) -> JsonObject:
        return {"requested_message": self.requested_message, "connector_id": self.connector_id}


# --- the other operations of OCPP 1.6's six profiles (payload: every field) ----------


@dataclass(frozen=True, kw_only=True)
class ClearCacheRequested(CommandRequested):
    """ClearCache: no arguments."""


@dataclass(frozen=True, kw_only=True)
class GetConfigurationRequested(CommandRequested):
    """``key``: the keys asked for; ``None`` asks for every key."""

    key: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class ChangeConfigurationRequested(CommandRequested):
    key: str
    value: str


@dataclass(frozen=True, kw_only=True)
class DataTransferRequested(CommandRequested):
    vendor_id: str
    message_id: str | None = None
    data: str | None = None


@dataclass(frozen=True, kw_only=True)
class UpdateFirmwareRequested(CommandRequested):
    location: str
    retrieve_date: str
    retries: int | None = None
    retry_interval: int | None = None


@dataclass(frozen=True, kw_only=True)
class GetDiagnosticsRequested(CommandRequested):
    """``start_time``/``stop_time``: the window of the log the station is to upload."""

    location: str
    retries: int | None = None
    retry_interval: int | None = None
    start_time: str | None = None
    stop_time: str | None = None


@dataclass(frozen=True, kw_only=True)
class GetLocalListVersionRequested(CommandRequested):
    """GetLocalListVersion: no arguments."""


@dataclass(frozen=True, kw_only=True)
class SendLocalListRequested(CommandRequested):
    """The list as sent, in ``local_authorization_list``."""

    list_version: int
    update_type: UpdateType
    local_authorization_list: list[LocalListEntry] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ReserveNowRequested(CommandRequested):
    """Opens (or, with ``replaces``, changes) reservation ``reservation_id``; connector
    0 reserves the station as a whole."""

    reservation_id: int
    connector_id: int
    expiry_date: str
    id_tag: str
    parent_id_tag: str | None = None
    replaces: bool = False

    def payload(self) -> JsonObject:
        payload = super().payload()
        del payload["replaces"]
        return payload


@dataclass(frozen=True, kw_only=True)
class CancelReservationRequested(CommandRequested):
    reservation_id: int


@dataclass(frozen=True, kw_only=True)
class SetChargingProfileRequested(CommandRequested):
    """``cs_charging_profiles``: the profile sent, snake_case, checked."""

    connector_id: int
    cs_charging_profiles: ChargingProfile
    station_transaction_id: str | None = added_later()
    """OCPP 2.0.1: the station's own id of the profile's transaction (a TxProfile)."""

    def payload(self) -> JsonObject:
        payload = super().payload()
        if self.station_transaction_id is None:
            del payload["station_transaction_id"]  # 1.6 sends the payload as it is
        return payload


@dataclass(frozen=True, kw_only=True)
class ClearChargingProfileRequested(CommandRequested):
    """Clears by ``id``, or every profile matching the criteria given (none: all)."""

    id: int | None = None
    connector_id: int | None = None
    charging_profile_purpose: ChargingProfilePurpose | None = None
    stack_level: int | None = None


@dataclass(frozen=True, kw_only=True)
class GetCompositeScheduleRequested(CommandRequested):
    connector_id: int
    duration: int
    charging_rate_unit: ChargingRateUnit | None = None


@dataclass(frozen=True, kw_only=True)
class GetBaseReportRequested(CommandRequested):
    """OCPP 2.0.1 GetBaseReport; the report arrives as NotifyReports (the twin's)."""

    report_base: ReportBase


@dataclass(frozen=True, kw_only=True)
class GetTransactionStatusRequested(CommandRequested):
    """OCPP 2.0.1 GetTransactionStatus, of ``station_transaction_id`` (the station's own
    id of our ``transaction_id``) when one is named."""

    transaction_id: int | None = None
    station_transaction_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class GetChargingProfilesRequested(CommandRequested):
    """OCPP 2.0.1 GetChargingProfiles; the profiles arrive as ReportChargingProfiles."""

    connector_id: int | None = None
    charging_profile_purpose: ChargingProfilePurpose | None = None
    stack_level: int | None = None
    charging_profile_id: list[int] | None = None
    charging_limit_source: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class GetReportRequested(CommandRequested):
    """OCPP 2.0.1 GetReport; the report arrives as NotifyReports, as a base report's."""

    component_variable: list[str] | None = None
    component_criteria: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class SetVariablesRequested(CommandRequested):
    """OCPP 2.0.1 SetVariables of several variables: ``[{"key", "value"}]``."""

    variables: list[dict[str, str]]


@dataclass(frozen=True, kw_only=True)
class SetNetworkProfileRequested(CommandRequested):
    """OCPP 2.0.1 SetNetworkProfile: ``connection_data`` as the API body has it."""

    configuration_slot: int
    connection_data: JsonObject


REQUEST_EVENTS: tuple[type[CommandRequested], ...] = (
    RemoteStartRequested,
    RemoteStopRequested,
    UnlockConnectorRequested,
    ResetRequested,
    AvailabilityChangeRequested,
    TriggerMessageRequested,
    ClearCacheRequested,
    GetConfigurationRequested,
    ChangeConfigurationRequested,
    DataTransferRequested,
    UpdateFirmwareRequested,
    GetDiagnosticsRequested,
    GetLocalListVersionRequested,
    SendLocalListRequested,
    ReserveNowRequested,
    CancelReservationRequested,
    SetChargingProfileRequested,
    ClearChargingProfileRequested,
    GetCompositeScheduleRequested,
    GetBaseReportRequested,
    GetTransactionStatusRequested,
    GetChargingProfilesRequested,
    GetReportRequested,
    SetVariablesRequested,
    SetNetworkProfileRequested,
)
