"""The catalogue of the station stream's events: every event type, in ``ALL_EVENTS``,
which serialization reads to load a stored log; and every event by its name, so that
``from chargeledger.domain import events as e`` reaches them all.

Each idea has its own module: ``event`` (the base), ``station_events`` (the boot),
``command_events`` (a command's life, shared by every operation: dispatched, merged,
and the five outcomes), ``command_requests`` (the ``...Requested`` event of each
operation), ``session_events`` (charging sessions), ``reservation_events`` and
``local_list_events`` (business decided with a command's outcome or a station
message). Event type names are the class names: moving a class between these modules
changes nothing stored.
"""

from __future__ import annotations

from chargeledger.domain.command_events import (
    TERMINAL_EVENTS,
    CommandAccepted,
    CommandDispatched,
    CommandExpired,
    CommandFailed,
    CommandMerged,
    CommandRejected,
    CommandRequested,
    CommandTimedOut,
    RequestBasics,
)
from chargeledger.domain.command_requests import (
    REQUEST_EVENTS,
    AvailabilityChangeRequested,
    CancelReservationRequested,
    ChangeConfigurationRequested,
    ClearCacheRequested,
    ClearChargingProfileRequested,
    DataTransferRequested,
    GetBaseReportRequested,
    GetChargingProfilesRequested,
    GetCompositeScheduleRequested,
    GetConfigurationRequested,
    GetDiagnosticsRequested,
    GetLocalListVersionRequested,
    GetReportRequested,
    GetTransactionStatusRequested,
    RemoteStartRequested,
    RemoteStopRequested,
    ReserveNowRequested,
    ResetRequested,
    SendLocalListRequested,
    SetChargingProfileRequested,
    SetNetworkProfileRequested,
    SetVariablesRequested,
    TriggerMessageRequested,
    UnlockConnectorRequested,
    UpdateFirmwareRequested,
)
from chargeledger.domain.event import Event
from chargeledger.domain.local_list_events import (
    LOCAL_LIST_EVENTS,
    IdTagInfoEntry,
    LocalListEntry,
    LocalListInstalled,
    LocalListOutOfSync,
)
from chargeledger.domain.reservation_events import (
    RESERVATION_EVENTS,
    ReservationChangeRefused,
    ReservationConfirmed,
    ReservationEnded,
)
from chargeledger.domain.session_events import (
    SESSION_EVENTS,
    MeterValuesRecorded,
    TransactionAbandoned,
    TransactionClosed,
    TransactionStartCorrected,
    TransactionStarted,
    TransactionStopped,
    TransactionUnconfirmed,
)
from chargeledger.domain.station_events import StationBooted

__all__ = [
    "ALL_EVENTS",
    "LOCAL_LIST_EVENTS",
    "REQUEST_EVENTS",
    "RESERVATION_EVENTS",
    "SESSION_EVENTS",
    "TERMINAL_EVENTS",
    "AvailabilityChangeRequested",
    "CancelReservationRequested",
    "ChangeConfigurationRequested",
    "ClearCacheRequested",
    "ClearChargingProfileRequested",
    "CommandAccepted",
    "CommandDispatched",
    "CommandExpired",
    "CommandFailed",
    "CommandMerged",
    "CommandRejected",
    "CommandRequested",
    "CommandTimedOut",
    "DataTransferRequested",
    "Event",
    "GetBaseReportRequested",
    "GetChargingProfilesRequested",
    "GetCompositeScheduleRequested",
    "GetConfigurationRequested",
    "GetDiagnosticsRequested",
    "GetLocalListVersionRequested",
    "GetReportRequested",
    "GetTransactionStatusRequested",
    "IdTagInfoEntry",
    "LocalListEntry",
    "LocalListInstalled",
    "LocalListOutOfSync",
    "MeterValuesRecorded",
    "RemoteStartRequested",
    "RemoteStopRequested",
    "RequestBasics",
    "ReservationChangeRefused",
    "ReservationConfirmed",
    "ReservationEnded",
    "ReserveNowRequested",
    "ResetRequested",
    "SendLocalListRequested",
    "SetChargingProfileRequested",
    "SetNetworkProfileRequested",
    "SetVariablesRequested",
    "StationBooted",
    "TransactionAbandoned",
    "TransactionClosed",
    "TransactionStartCorrected",
    "TransactionStarted",
    "TransactionStopped",
    "TransactionUnconfirmed",
    "TriggerMessageRequested",
    "UnlockConnectorRequested",
    "UpdateFirmwareRequested",
]

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
