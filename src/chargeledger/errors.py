"""The root of every error chargeledger raises on purpose.

Catch ``ChargeledgerError`` to tell our own refusals and failures from bugs; catch a
branch to handle one kind. The hierarchy (``(ValueError)`` and the like mark a second
base kept for callers that catch the built-in)::

    ChargeledgerError
    ├── DomainError                        a command the domain refuses (``code``)
    │   └── ConnectorNotAvailableError, IdTagNotAcceptedError, … (domain/errors.py)
    ├── StoreError                         the event or document store
    │   ├── VersionConflictError           another writer appended first
    │   ├── CommandAlreadyRecordedError    a chained append met a recorded command id
    │   ├── CorruptEventError              a stored event that cannot be decoded
    │   ├── UnreadableDocumentError (ValueError)  a stored document that is not one
    │   ├── MisshapenDocumentError (ValueError)   one without what its readers need
    │   ├── InvalidAppendError (ValueError)  refused before anything was written
    │   │   └── UnknownEventTypeError      an event type the codec does not know
    │   ├── StoreUnavailableError          PostgreSQL cannot be reached
    │   └── FileInUseError                 another node serves this SQLite file
    ├── StationLinkError                   talking to a station
    │   ├── CallTimeoutError               no answer in time
    │   ├── StationDisconnectedError       the connection closed before the answer
    │   │   └── StationOfflineError        … and before the CALL left (also CallNotSent)
    │   ├── CallNotSentError               the CALL never left this node
    │   │   ├── StationQueueFullError
    │   │   └── InvalidCallError
    │   ├── StationCallError               the station answered with a CALLERROR
    │   │   └── StationAnswerInvalidError  its answer broke the schema
    │   └── StaleEpochError                a newer connection holds the station
    ├── PayloadError                       a station's payload breaks its schema
    ├── LeadershipLostError                this node's leader term ended; its write refused
    ├── RetriesExhaustedError              a command lost every optimistic retry
    ├── RegistryError                      a station registry change refused
    │   └── InvalidStationIdError, StationAlreadyRegisteredError, …
    ├── InvalidIdTagError (ValueError)     an id tag the registry cannot hold
    ├── ChargingProfileNotFoundError (LookupError)
    ├── LocalListNotFoundError (LookupError)  no named local list by that name
    ├── ApiError                           an HTTP answer other than 2xx, with its code
    ├── ScenarioError (ValueError)         a simulator scenario file with a mistake
    ├── TooFewFilesError                   the process may not open enough files to serve
    └── UserError                          a mistake on the command line (one line, exit 2)
"""

from __future__ import annotations


class ChargeledgerError(Exception):
    """Raised on purpose by chargeledger; anything else escaping is a bug."""


class StoreError(ChargeledgerError):
    """The event or document store refused or failed an operation."""


class StationLinkError(ChargeledgerError):
    """A CALL to a station did not get an answer that could be used."""


class TooFewFilesError(ChargeledgerError):
    """The process may open too few files (``ulimit -n``) for a port to hold the
    connections it needs; the node refuses to start rather than fail under load."""
