"""Commands to the station aggregate. Imperative names; time and ids arrive here.

Everything a decision needs that is not in the station's own history arrives on
the command, looked up before deciding: the registry's verdict and the
unknown-station policy (``RegisterBoot``), the twin's snapshot (operator
commands), the id tag's authorization and a freshly allocated transaction id
(``StartTransaction``). So ``decide`` stays a pure function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from chargeledger.domain.charging_profiles import ChargingProfile
from chargeledger.domain.configuration import NO_CONFIGURATION, ConfigurationSnapshot
from chargeledger.domain.enums import (
    AvailabilityType,
    ChargingProfilePurpose,
    ChargingRateUnit,
    MessageTrigger,
    Outcome,
    ReportBase,
    ResetType,
    StopReason,
    TransactionEventType,
    TransactionStatus,
    UnknownStations,
    UpdateType,
)
from chargeledger.domain.events import IdTagInfoEntry
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.remote_start_policy import NO_SNAPSHOT, TwinSnapshot


@dataclass(frozen=True)
class Command:
    """Base of every command; ``command_id`` makes a repeat recognisable."""

    command_id: str


@dataclass(frozen=True)
class RegisterBoot(Command):
    """A BootNotification. ``known_station`` is the station registry's answer;
    ``unknown_stations`` the node's policy for ids it does not know."""

    station_id: str
    vendor: str
    model: str
    firmware_version: str | None
    booted_at: str
    known_station: bool = True
    unknown_stations: UnknownStations = UnknownStations.ACCEPT
    serial_number: str | None = None
    reason: str | None = None
    """Why it booted (OCPP 2.0.1's ``reason``: PowerUp, RemoteReset, ...); 1.6 says not."""


@dataclass(frozen=True, kw_only=True)
class OperatorCommand(Command):
    """An operator's station command: decided now, sent by the dispatcher after commit,
    given up (``expired``) when the station has not been reached by ``expires_at``."""

    requested_at: str
    expires_at: str
    twin: TwinSnapshot = NO_SNAPSHOT


@dataclass(frozen=True, kw_only=True)
class RequestRemoteStart(OperatorCommand):
    """``charging_profile``: a TxProfile for the session (snake_case), if any;
    ``connector_id`` ``None``: the station picks (OCPP 1.6 leaves it optional)."""

    connector_id: int | None
    id_tag: str
    charging_profile: ChargingProfile | None = None
    id_tag_status: str | None = None
    """The id-tag registry's verdict on ``id_tag`` now (``None``: not weighed)."""
    force: bool = False
    """Send it even though the registry refuses the tag (the operator insists)."""


RecordedStatus = TransactionStatus | Literal["unconfirmed"]
"""A transaction's status as its document says: ``unconfirmed`` is what documents of
older versions hold for an open session the station lost track of (read as it was)."""


@dataclass(frozen=True)
class RecordedTransaction:
    """What the CSMS has recorded of a transaction id (its read model), looked up
    before a remote stop is decided: where it ran, and whether and how it ended."""

    station_id: str
    on_this_station: bool
    status: RecordedStatus
    ended_at: str | None = None
    ended_because: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestRemoteStop(OperatorCommand):
    """``recorded``: the CSMS's record of the transaction; ``None`` when it has never
    heard of it (the station may run a session it has not told us of yet)."""

    transaction_id: int
    recorded: RecordedTransaction | None = None


@dataclass(frozen=True, kw_only=True)
class RequestUnlockConnector(OperatorCommand):
    connector_id: int


@dataclass(frozen=True, kw_only=True)
class RequestReset(OperatorCommand):
    reset_type: ResetType
    evse_id: int | None = None
    """OCPP 2.0.1: one EVSE; ``None``, the whole station."""


@dataclass(frozen=True, kw_only=True)
class RequestChangeAvailability(OperatorCommand):
    """``connector_id`` 0 means the whole station."""

    connector_id: int
    availability_type: AvailabilityType


@dataclass(frozen=True, kw_only=True)
class RequestTriggerMessage(OperatorCommand):
    requested_message: MessageTrigger
    connector_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class RequestClearCache(OperatorCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class RequestGetConfiguration(OperatorCommand):
    """GetConfiguration; ``key`` ``None`` asks for every key."""

    key: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class RequestChangeConfiguration(OperatorCommand):
    """``configuration``: what the station reported of its keys, looked up before deciding."""

    key: str
    value: str
    configuration: ConfigurationSnapshot = NO_CONFIGURATION


@dataclass(frozen=True, kw_only=True)
class RequestDataTransfer(OperatorCommand):
    vendor_id: str
    message_id: str | None = None
    data: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestUpdateFirmware(OperatorCommand):
    location: str
    retrieve_date: str
    retries: int | None = None
    retry_interval: int | None = None


@dataclass(frozen=True, kw_only=True)
class RequestGetDiagnostics(OperatorCommand):
    location: str
    retries: int | None = None
    retry_interval: int | None = None
    start_time: str | None = None
    stop_time: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestGetLocalListVersion(OperatorCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class RequestGetBaseReport(OperatorCommand):
    """OCPP 2.0.1: the station reports its device model (NotifyReport) as it says."""

    report_base: ReportBase


@dataclass(frozen=True, kw_only=True)
class RequestGetTransactionStatus(OperatorCommand):
    """OCPP 2.0.1: whether the station still has messages of a transaction (ours, by
    id) to send, and whether it runs; without one, whether any message waits."""

    transaction_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class RequestSendLocalList(OperatorCommand):
    """SendLocalList built from ``registry``, the id-tag registry as the station should
    know it (id tag to ``{"status", "expiry_date"?}``); ``list_version`` ``None``: ours + 1.
    ``entries``, when given, are sent as they are instead (an explicit list, or a named
    list of the CSMS): id tag to its info, or ``None`` to remove it (Differential)."""

    update_type: UpdateType
    registry: Mapping[str, IdTagInfoEntry]
    list_version: int | None = None
    entries: Mapping[str, IdTagInfoEntry | None] | None = None


@dataclass(frozen=True, kw_only=True)
class RequestReserveNow(OperatorCommand):
    """ReserveNow. ``reservation_id`` is allocated before deciding; the decision keeps
    the id of the reservation it changes when the same id tag reserves again."""

    reservation_id: int
    connector_id: int
    expiry_date: str
    id_tag: str
    parent_id_tag: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestCancelReservation(OperatorCommand):
    reservation_id: int


@dataclass(frozen=True, kw_only=True)
class RequestSetChargingProfile(OperatorCommand):
    """SetChargingProfile; the profile in snake_case, resolved from the store if named."""

    connector_id: int
    cs_charging_profiles: ChargingProfile


@dataclass(frozen=True, kw_only=True)
class RequestClearChargingProfile(OperatorCommand):
    id: int | None = None
    connector_id: int | None = None
    charging_profile_purpose: ChargingProfilePurpose | None = None
    stack_level: int | None = None


@dataclass(frozen=True, kw_only=True)
class RequestGetCompositeSchedule(OperatorCommand):
    connector_id: int
    duration: int
    charging_rate_unit: ChargingRateUnit | None = None


@dataclass(frozen=True)
class ExpireReservation(Command):
    """End a reservation whose expiry date has passed by ``now``."""

    reservation_id: int
    now: str


@dataclass(frozen=True, kw_only=True)
class EndReservationAsReported(Command):
    """OCPP 2.0.1 ReservationStatusUpdate: the station ended a reservation itself
    (``Expired``, or ``Removed``: e.g. by a reset)."""

    reservation_id: int
    status: str


@dataclass(frozen=True)
class MarkDispatched(Command):
    target_command_id: str
    attempt: int
    connection_epoch: int
    dispatched_at: str
    redispatch: bool = False
    """Send again a command already dispatched; only for commands whose repeat is harmless."""


@dataclass(frozen=True)
class RecordOutcome(Command):
    """The end of a station command; ``outcome`` names the terminal status."""

    target_command_id: str
    outcome: Outcome
    result: JsonObject = field(default_factory=dict)
    detail: str = ""
    error_code: str = ""
    answered_at: str | None = None


@dataclass(frozen=True, kw_only=True)
class StartTransaction(Command):
    """The station started a charging session. ``transaction_id`` is allocated before
    deciding (unique across the system); ``id_tag_info`` is the registry's verdict."""

    connector_id: int
    id_tag: str
    meter_start: int
    timestamp: str
    transaction_id: int
    id_tag_info: IdTagInfo
    reservation_id: int | None = None
    station_transaction_id: str | None = None
    """OCPP 2.0.1: the station's own id of the transaction (``transactionId``)."""
    seq_no: int | None = None
    offline: bool = False
    """OCPP 2.0.1: the station sent it while offline."""


@dataclass(frozen=True, kw_only=True)
class RecordMeterValues(Command):
    """Meter readings the station took within a transaction (OCPP ``MeterValue`` list)."""

    connector_id: int
    transaction_id: int
    meter_value: list[JsonObject]


@dataclass(frozen=True, kw_only=True)
class StopTransaction(Command):
    transaction_id: int
    meter_stop: int
    timestamp: str
    id_tag: str | None = None
    id_tag_info: IdTagInfo | None = None
    reason: StopReason | None = None
    transaction_data: list[JsonObject] = field(default_factory=list)
    last_reading: JsonObject | None = None
    """The last MeterValue the station sent for the session (telemetry), if any."""
    station_transaction_id: str | None = None
    seq_no: int | None = None
    offline: bool = False


@dataclass(frozen=True, kw_only=True)
class RecordTransactionEvent(Command):
    """An OCPP 2.0.1 TransactionEvent: ``connector_id`` is the EVSE (the unit 1.6 calls
    a connector); ``transaction_id`` our id, allocated before deciding, used if this
    event is the first news of the station's ``station_transaction_id``;
    ``meter_reading`` the energy register (Wh) it carries, if any."""

    event_type: TransactionEventType
    station_transaction_id: str
    seq_no: int
    connector_id: int
    timestamp: str
    transaction_id: int
    id_tag: str | None = None
    id_tag_info: IdTagInfo | None = None
    meter_reading: int | None = None
    reason: StopReason | None = None
    reservation_id: int | None = None
    meter_value: list[JsonObject] = field(default_factory=list)
    offline: bool = False
    """The station sent it while offline (``offline: true``), replaying it later."""


@dataclass(frozen=True, kw_only=True)
class CloseTransaction(Command):
    """An operator closes a session the station no longer runs, with a reason."""

    transaction_id: int
    reason: str
    closed_at: str
