"""Events of the station stream. Past tense, frozen, JSON-friendly fields only.

Operator commands open with a ``...Requested`` event (a ``CommandRequested``), one
per operation (``domain/operations`` says which event opens which operation); its
``payload()`` is the command's arguments, named as in the API body (the reset's and
the availability change's ``type`` included);

then ``CommandDispatched`` before each send, and end in exactly one shared outcome
event: ``CommandAccepted``, ``CommandRejected``, ``CommandTimedOut``,
``CommandExpired`` or ``CommandFailed`` (ARCHITECTURE.md flow 4).

Charging sessions: ``TransactionStarted``, ``MeterValuesRecorded``,
``TransactionStopped``, and ``TransactionAbandoned`` when a station starts a new
session on a connector whose previous one it never stopped.

Business decided with a command's outcome or a station message: reservations
(``ReservationConfirmed``, ``ReservationChangeRefused``, ``ReservationEnded``) and
the local authorization list (``LocalListInstalled``, ``LocalListOutOfSync``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, NotRequired, TypedDict

from chargeledger.domain.charging_profiles import ChargingProfile
from chargeledger.domain.enums import (
    AuthorizationStatus,
    AvailabilityType,
    ChargingProfilePurpose,
    ChargingRateUnit,
    MessageTrigger,
    RegistrationStatus,
    ReservationEndReason,
    ResetType,
    StopReason,
    UpdateType,
)


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""


@dataclass(frozen=True)
class StationBooted(Event):
    station_id: str
    registration: RegistrationStatus
    vendor: str
    model: str
    firmware_version: str | None
    booted_at: str
    serial_number: str | None = None
    """``chargePointSerialNumber`` (or the older ``chargeBoxSerialNumber``), if sent."""


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

    def payload(self) -> dict[str, Any]:
        """The command's arguments, named as in the API body (by default every field
        but the three above)."""
        common = ("command_id", "requested_at", "expires_at")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in common}


@dataclass(frozen=True, kw_only=True)
class RemoteStartRequested(CommandRequested):
    """``charging_profile``: a TxProfile for the session, snake_case, checked;
    ``connector_id`` ``None``: the station picks the connector."""

    connector_id: int | None
    id_tag: str
    charging_profile: ChargingProfile | None = None

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"connector_id": self.connector_id, "id_tag": self.id_tag}
        if self.charging_profile is not None:
            payload["charging_profile"] = self.charging_profile
        return payload


@dataclass(frozen=True, kw_only=True)
class RemoteStopRequested(CommandRequested):
    transaction_id: int

    def payload(self) -> dict[str, Any]:
        return {"transaction_id": self.transaction_id}


@dataclass(frozen=True, kw_only=True)
class UnlockConnectorRequested(CommandRequested):
    connector_id: int

    def payload(self) -> dict[str, Any]:
        return {"connector_id": self.connector_id}


@dataclass(frozen=True, kw_only=True)
class ResetRequested(CommandRequested):
    reset_type: ResetType

    def payload(self) -> dict[str, Any]:
        return {"type": self.reset_type}


@dataclass(frozen=True, kw_only=True)
class AvailabilityChangeRequested(CommandRequested):
    connector_id: int
    availability_type: AvailabilityType

    def payload(self) -> dict[str, Any]:
        return {"connector_id": self.connector_id, "type": self.availability_type}


@dataclass(frozen=True, kw_only=True)
class TriggerMessageRequested(CommandRequested):
    requested_message: MessageTrigger
    connector_id: int | None = None

    def payload(self) -> dict[str, Any]:
        return {"requested_message": self.requested_message, "connector_id": self.connector_id}


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
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    answered_at: str | None = None


@dataclass(frozen=True)
class CommandRejected(Event):
    command_id: str
    result: dict[str, Any] = field(default_factory=dict)
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


@dataclass(frozen=True, kw_only=True)
class TransactionStarted(Event):
    """``started_at`` is the station's own timestamp; ``remote_start_command_id`` links
    the session to the remote start that reserved its connector, if any."""

    transaction_id: int
    connector_id: int
    id_tag: str
    id_tag_status: AuthorizationStatus
    id_tag_expiry: str | None
    meter_start: int
    started_at: str
    reservation_id: int | None = None
    remote_start_command_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class MeterValuesRecorded(Event):
    """Readings within a transaction, in OCPP 1.6's ``MeterValue`` structure."""

    transaction_id: int
    connector_id: int
    meter_value: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class TransactionStopped(Event):
    """``id_tag_status``/``id_tag_expiry``: the verdict on the stopping tag, kept so a
    repeated StopTransaction is answered the same."""

    transaction_id: int
    connector_id: int
    meter_stop: int
    stopped_at: str
    id_tag: str | None = None
    id_tag_status: AuthorizationStatus | None = None
    id_tag_expiry: str | None = None
    reason: StopReason | None = None
    transaction_data: list[dict[str, Any]] = field(default_factory=list)
    energy_wh: int | None = None
    """Decided at the stop: the sum of the rises between the session's readings (start,
    readings, stop), never negative; ``None`` in events recorded before it was decided."""
    energy_anomaly: str | None = None
    """Why the energy is not simply ``meter_stop - meter_start`` (a reading went down)."""


@dataclass(frozen=True, kw_only=True)
class TransactionAbandoned(Event):
    """The station started ``superseded_by`` on the connector without stopping this one
    (it lost it, or rebooted). A late StopTransaction for it still closes its books."""

    transaction_id: int
    connector_id: int
    superseded_by: int


@dataclass(frozen=True, kw_only=True)
class TransactionUnconfirmed(Event):
    """The station, after a boot, reports the session's connector free: it no longer
    runs the session (killed, or reset without a StopTransaction). The session stays
    open for its StopTransaction, but no longer blocks the connector; ``reason`` says
    what the station reported."""

    transaction_id: int
    connector_id: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class TransactionClosed(Event):
    """An operator closed the session by hand (``reason``); a late StopTransaction for
    it still closes its books."""

    transaction_id: int
    connector_id: int
    reason: str
    closed_at: str


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


class IdTagInfoEntry(TypedDict):
    """An id tag's ``idTagInfo`` on a local list, snake_case."""

    status: str
    expiry_date: NotRequired[str]
    parent_id_tag: NotRequired[str]


class LocalListEntry(TypedDict):
    """One entry of a local list as sent; no info removes the tag (Differential)."""

    id_tag: str
    id_tag_info: IdTagInfoEntry | None


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

    def payload(self) -> dict[str, Any]:
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


# --- reservations and the local list: business decided with an outcome ------------


@dataclass(frozen=True, kw_only=True)
class ReservationConfirmed(Event):
    """The station accepted the reservation (or its change) that ``confirmed_by`` sent."""

    reservation_id: int
    connector_id: int
    id_tag: str
    expiry_date: str
    confirmed_by: str


@dataclass(frozen=True, kw_only=True)
class ReservationChangeRefused(Event):
    """The station did not take a change of a reservation it holds; the old one stands."""

    reservation_id: int
    refused_by: str


@dataclass(frozen=True, kw_only=True)
class ReservationEnded(Event):
    """``reason``: rejected (the station refused it), failed (it never reached the
    station, or its fate is unknown), cancelled, used (by ``transaction_id``), expired."""

    reservation_id: int
    connector_id: int
    reason: ReservationEndReason
    transaction_id: int | None = None
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class LocalListInstalled(Event):
    """The station accepted list ``list_version``; the entries are those it was sent."""

    list_version: int
    update_type: UpdateType
    local_authorization_list: list[LocalListEntry]
    installed_by: str


@dataclass(frozen=True, kw_only=True)
class LocalListOutOfSync(Event):
    """The station's list is not the one we last sent (``station_version``: what it
    reported, when it did): the next update must be Full."""

    our_version: int
    station_version: int | None
    reason: str


TERMINAL_EVENTS: tuple[type[Event], ...] = (
    CommandAccepted,
    CommandRejected,
    CommandTimedOut,
    CommandExpired,
    CommandFailed,
)

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
)

RESERVATION_EVENTS: tuple[type[Event], ...] = (
    ReservationConfirmed,
    ReservationChangeRefused,
    ReservationEnded,
)

LOCAL_LIST_EVENTS: tuple[type[Event], ...] = (LocalListInstalled, LocalListOutOfSync)

SESSION_EVENTS: tuple[type[Event], ...] = (
    TransactionStarted,
    MeterValuesRecorded,
    TransactionStopped,
    TransactionAbandoned,
    TransactionUnconfirmed,
    TransactionClosed,
)

ALL_EVENTS: tuple[type[Event], ...] = (
    StationBooted,
    *REQUEST_EVENTS,
    CommandDispatched,
    CommandMerged,
    *TERMINAL_EVENTS,
    *SESSION_EVENTS,
    *RESERVATION_EVENTS,
    *LOCAL_LIST_EVENTS,
)
