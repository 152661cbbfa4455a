"""The closed sets of the domain, as types.

Each is a ``StrEnum``: a member is the very string stored in events, read models and
API JSON (``ResetType.SOFT == "Soft"``, ``json.dumps`` writes ``"Soft"``), so typing
a field with one changes no byte on the wire or on disk. The OCPP 1.6 sets carry the
protocol's spelling; the domain keeps its own copy because it does not import the
``ocpp`` package (STYLE.md habit 1); adapters translate with ``Enum(value)``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from chargeledger.domain.errors import InvalidCommandError


# Where a station command is: open (REQUESTED, DISPATCHED) or ended with one of the
# Outcome values. No docstring: the API's OpenAPI document shows this enum, unchanged.
class CommandStatus(StrEnum):
    REQUESTED = "requested"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    EXPIRED = "expired"
    FAILED = "failed"


class Outcome(StrEnum):
    """How a station command ended: exactly one of these, once (ARCHITECTURE.md flow 4)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    EXPIRED = "expired"
    FAILED = "failed"


OPEN_STATUSES = frozenset({CommandStatus.REQUESTED, CommandStatus.DISPATCHED})
ENDED_STATUSES = frozenset(CommandStatus(outcome) for outcome in Outcome)


# A charging session as the read side shows it (no docstring: shown in OpenAPI as is).
class TransactionStatus(StrEnum):
    OPEN = "open"
    STOPPED = "stopped"
    ABANDONED = "abandoned"
    """The station started another session on the connector without stopping this one."""
    CLOSED = "closed"
    """An operator closed it by hand."""


class RegistrationStatus(StrEnum):
    """OCPP 1.6 ``RegistrationStatus``: the answer to a BootNotification."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class AuthorizationStatus(StrEnum):
    """OCPP 1.6 ``AuthorizationStatus``: the verdict on an id tag."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class ResetType(StrEnum):
    SOFT = "Soft"
    HARD = "Hard"


class AvailabilityType(StrEnum):
    OPERATIVE = "Operative"
    INOPERATIVE = "Inoperative"


class MessageTrigger(StrEnum):
    """What a TriggerMessage may ask for, in either OCPP version: 1.6's six, then what
    only 2.0.1 has. Each version's table says which it can send (1.6's
    DiagnosticsStatusNotification is 2.0.1's LogStatusNotification, and back)."""

    BOOT_NOTIFICATION = "BootNotification"
    DIAGNOSTICS_STATUS_NOTIFICATION = "DiagnosticsStatusNotification"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    STATUS_NOTIFICATION = "StatusNotification"
    LOG_STATUS_NOTIFICATION = "LogStatusNotification"
    TRANSACTION_EVENT = "TransactionEvent"
    SIGN_CHARGING_STATION_CERTIFICATE = "SignChargingStationCertificate"
    SIGN_V2G_CERTIFICATE = "SignV2GCertificate"
    SIGN_COMBINED_CERTIFICATE = "SignCombinedCertificate"
    PUBLISH_FIRMWARE_STATUS_NOTIFICATION = "PublishFirmwareStatusNotification"


class UpdateType(StrEnum):
    """How a SendLocalList changes the station's list."""

    FULL = "Full"
    DIFFERENTIAL = "Differential"


class StopReason(StrEnum):
    """OCPP 1.6 ``Reason``: why the station stopped a session."""

    EMERGENCY_STOP = "EmergencyStop"
    EV_DISCONNECTED = "EVDisconnected"
    HARD_RESET = "HardReset"
    LOCAL = "Local"
    OTHER = "Other"
    POWER_LOSS = "PowerLoss"
    REBOOT = "Reboot"
    REMOTE = "Remote"
    SOFT_RESET = "SoftReset"
    UNLOCK_COMMAND = "UnlockCommand"
    DE_AUTHORIZED = "DeAuthorized"
    # OCPP 2.0.1 ``stoppedReason`` adds these
    ENERGY_LIMIT_REACHED = "EnergyLimitReached"
    GROUND_FAULT = "GroundFault"
    IMMEDIATE_RESET = "ImmediateReset"
    LOCAL_OUT_OF_CREDIT = "LocalOutOfCredit"
    MASTER_PASS = "MasterPass"
    OVERCURRENT_FAULT = "OvercurrentFault"
    POWER_QUALITY = "PowerQuality"
    SOC_LIMIT_REACHED = "SOCLimitReached"
    STOPPED_BY_EV = "StoppedByEV"
    TIME_LIMIT_REACHED = "TimeLimitReached"
    TIMEOUT = "Timeout"


class ReportBase(StrEnum):
    """OCPP 2.0.1 ``GetBaseReport.reportBase``: which part of its device model a
    station reports."""

    CONFIGURATION_INVENTORY = "ConfigurationInventory"
    FULL_INVENTORY = "FullInventory"
    SUMMARY_INVENTORY = "SummaryInventory"


class TransactionEventType(StrEnum):
    """OCPP 2.0.1 ``TransactionEvent.eventType``."""

    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


class ReservationEndReason(StrEnum):
    """Why a reservation ended."""

    REJECTED = "rejected"
    """The station refused it."""
    FAILED = "failed"
    """It never reached the station, or its fate is unknown."""
    CANCELLED = "cancelled"
    USED = "used"
    """A session on it started."""
    EXPIRED = "expired"


class ReservationStatus(StrEnum):
    """A reservation as the read side shows it: live (``requested``, ``active``) or
    ended for one of the ``ReservationEndReason`` values."""

    REQUESTED = "requested"
    ACTIVE = "active"
    """The station confirmed it."""
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"
    USED = "used"
    EXPIRED = "expired"


LIVE_RESERVATION_STATUSES = frozenset({ReservationStatus.REQUESTED, ReservationStatus.ACTIVE})


class ConnectorStatus(StrEnum):
    """OCPP 1.6 ``ChargePointStatus``: what a StatusNotification reports, and what
    OCPP 2.0.1's ``ConnectorStatusEnumType`` adds (``Occupied``); a connector of the
    twin is always one of these."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"
    """OCPP 2.0.1 only: what 1.6 tells apart as Preparing, Charging, ... Finishing."""


class ChargingProfilePurpose(StrEnum):
    CHARGE_POINT_MAX_PROFILE = "ChargePointMaxProfile"
    TX_DEFAULT_PROFILE = "TxDefaultProfile"
    TX_PROFILE = "TxProfile"


class ChargingProfileKind(StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class RecurrencyKind(StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class ChargingRateUnit(StrEnum):
    WATTS = "W"
    AMPERES = "A"


Member = TypeVar("Member", bound=StrEnum)


def one_of(what: str, kind: type[Member], value: str) -> Member:
    """The member spelled ``value``; a command naming none is refused
    (``InvalidCommandError``), so what the domain records is always a member."""
    try:
        return kind(value)
    except ValueError:
        raise InvalidCommandError(f"{what} {value!r} is not one of {spellings(kind)}") from None


def spellings(kind: type[StrEnum]) -> str:
    """The members as a reader types them: ``Soft, Hard``."""
    return ", ".join(member.value for member in kind)


class UnknownStations(StrEnum):
    """The node's policy for a booting station the registry does not hold (its
    ``--unknown-stations``): reject its registration, or accept it."""

    REJECT = "reject"
    ACCEPT = "accept"
