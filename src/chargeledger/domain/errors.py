"""Domain refusals. Each carries a stable code that the API returns as ``error``.

The code is the class name without ``Error`` (``ConnectorNotAvailable``), so a
refusal reads the same in a 409 answer, in the log and in a repeat of the
command id.
"""

from __future__ import annotations

from chargeledger.errors import ChargeledgerError


class DomainError(ChargeledgerError):
    """A command the domain refuses; it decides no events."""

    def __init__(self, detail: str = "", code: str | None = None) -> None:
        super().__init__(detail)
        self._code = code

    @property
    def code(self) -> str:
        return self._code or type(self).__name__.removesuffix("Error")

    @property
    def detail(self) -> str:
        return str(self) or self.code


class ConnectorNotAvailableError(DomainError):
    """The connector is faulted, unavailable, charging, or held by another remote start."""


class StationNotRegisteredError(DomainError):
    """The station's registration (Rejected, or Pending for a remote start) forbids it."""


class TransactionNotFoundError(DomainError):
    """No open charging session with that transaction id on this station (for a remote
    stop: one known to have ended, or to run on another station)."""


class NotSupportedByProtocolError(DomainError):
    """The operation has no message in the OCPP version the station speaks."""


class UnknownConnectorError(DomainError):
    """The station has no such connector (by what it last reported)."""


class CommandNotFoundError(DomainError):
    """The station command an outcome or dispatch names is not open."""


class CommandPendingError(DomainError):
    """A different command of the same kind for the same target is still on its way."""


class InvalidCommandError(DomainError):
    """A command argument outside what OCPP 1.6 allows."""


class ConnectorReservedError(DomainError):
    """A reservation holds the connector (or the whole station) for another id tag."""


class ReservationNotFoundError(DomainError):
    """No live reservation with that id on this station."""


class ExpiryInThePastError(DomainError):
    """A reservation whose expiry date is not after the time it was asked for."""


class InvalidChargingProfileError(DomainError):
    """A charging profile that breaks OCPP 1.6's rules; says which field and why."""


class UnknownConfigurationKeyError(DomainError):
    """The station said it does not support that configuration key."""


class ReadonlyConfigurationKeyError(DomainError):
    """The station reported that configuration key as read-only."""


class LocalListOutOfSyncError(DomainError):
    """The station's local list may differ from the one we last sent: a Differential
    update cannot be built on it; a Full one can."""


class LocalListVersionError(DomainError):
    """A local-list update whose ``list_version`` is not above the version the station
    holds: the station would answer VersionMismatch, or install an older list."""


class IdTagNotAcceptedError(DomainError):
    """A remote start for an id tag the registry refuses (Blocked, Expired, Invalid, ...);
    the station would stop the session at once (DeAuthorized)."""


class IdempotencyKeyReusedError(DomainError):
    """The Idempotency-Key already names a request with another body."""


class IdempotencyKeyInUseError(DomainError):
    """The command id already names a command of another station."""
