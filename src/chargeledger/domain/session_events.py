"""Charging sessions: ``TransactionStarted``, ``MeterValuesRecorded``,
``TransactionStopped``, and ``TransactionAbandoned`` when a station starts a new
session on a connector whose previous one it never stopped; ``TransactionUnconfirmed``
and ``TransactionClosed`` when the session ends without its StopTransaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from chargeledger.domain.enums import AuthorizationStatus, StopReason
from chargeledger.domain.event import Event, added_later
from chargeledger.domain.json_object import JsonObject


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
    station_transaction_id: str | None = added_later()
    """OCPP 2.0.1: the station's own id of the transaction; ``seq_no`` of its message;
    ``offline``: the station sent the message while offline (replayed it later)."""
    seq_no: int | None = added_later()
    offline: bool = added_later(False)


@dataclass(frozen=True, kw_only=True)
class MeterValuesRecorded(Event):
    """Readings within a transaction, in OCPP 1.6's ``MeterValue`` structure."""

    transaction_id: int
    connector_id: int
    meter_value: list[JsonObject]


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
    transaction_data: list[JsonObject] = field(default_factory=list)
    energy_wh: int | None = None
    """Decided at the stop: the sum of the rises between the session's readings (start,
    readings, stop), never negative; ``None`` in events recorded before it was decided."""
    energy_anomaly: str | None = None
    """Why the energy is not simply ``meter_stop - meter_start`` (a reading went down)."""
    station_transaction_id: str | None = added_later()
    seq_no: int | None = added_later()
    offline: bool = added_later(False)


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


@dataclass(frozen=True, kw_only=True)
class TransactionStartCorrected(Event):
    """OCPP 2.0.1: the Started of a transaction that a later message (by ``seqNo``)
    opened arrived after it, while the session is open: the session starts where and
    when the station says (``meter_start``, ``started_at``), not where the opener did."""

    transaction_id: int
    connector_id: int
    meter_start: int
    started_at: str
    station_transaction_id: str
    seq_no: int
    offline: bool = added_later(False)


SESSION_EVENTS: tuple[type[Event], ...] = (
    TransactionStarted,
    MeterValuesRecorded,
    TransactionStopped,
    TransactionAbandoned,
    TransactionUnconfirmed,
    TransactionClosed,
    TransactionStartCorrected,
)
