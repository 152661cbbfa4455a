"""OCPP 2.0.1 TransactionEvents on the station aggregate, decided with the same rules as
1.6's StartTransaction and StopTransaction (``charging_sessions``), once: a transaction
the station reports is one session of the EVSE (the domain's ``connector_id``), a
session still open there is abandoned first, a remote start of the same id tag
holding the EVSE is linked to it, and its energy is decided at its end.

What a message is against what the aggregate remembers of its transaction is
``transaction_tracks.verdict``: a repeated seqNo, or any message after the end,
records nothing; the first message to arrive opens the transaction, whichever it is.
Updates of an open transaction are telemetry (their meter values go to the twin).
"""

from __future__ import annotations

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.charging_sessions import decide_start, decide_stop
from chargeledger.domain.enums import AuthorizationStatus, TransactionEventType
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.station_state import StationState, fold
from chargeledger.domain.transaction_tracks import TrackedTransaction, Verdict, verdict

NO_ID_TAG = ""
"""The id tag of a transaction that started before any IdToken was presented (2.0.1
lets a station start one on plugging in)."""


def decide_transaction_event(
    command: c.RecordTransactionEvent, state: StationState
) -> list[e.Event]:
    track = state.station_transactions.get(command.station_transaction_id)
    found = verdict(track, command.event_type, command.seq_no)
    if found == Verdict.CONTINUES and track is not None:
        return _late_start(command, track, state)
    if found in (Verdict.REPEAT, Verdict.LATE, Verdict.CONTINUES):
        return []
    decided: list[e.Event] = []
    transaction_id = command.transaction_id if track is None else track.transaction_id
    if found in (Verdict.OPENS, Verdict.OPENS_AND_ENDS):
        decided = decide_start(_start_of(command), state)
        if found == Verdict.OPENS:
            return decided
        state = fold(decided, state)
    return [*decided, *decide_stop(_stop_of(command, transaction_id, state), state)]


def _late_start(
    command: c.RecordTransactionEvent, track: TrackedTransaction, state: StationState
) -> list[e.Event]:
    """A Started older than the message that opened its (still open) transaction
    corrects where and when the session started; anything else continuing is telemetry."""
    session = state.sessions.get(track.transaction_id)
    if (
        command.event_type != TransactionEventType.STARTED
        or session is None
        or command.seq_no > min(track.seq_nos, default=command.seq_no)
    ):
        return []
    return [
        e.TransactionStartCorrected(
            transaction_id=track.transaction_id,
            connector_id=session.connector_id,
            meter_start=session.meter_start
            if command.meter_reading is None
            else command.meter_reading,
            started_at=command.timestamp,
            station_transaction_id=command.station_transaction_id,
            seq_no=command.seq_no,
            offline=command.offline,
        )
    ]


def _start_of(command: c.RecordTransactionEvent) -> c.StartTransaction:
    return c.StartTransaction(
        command_id=command.command_id,
        connector_id=command.connector_id,
        id_tag=command.id_tag or NO_ID_TAG,
        meter_start=command.meter_reading or 0,
        timestamp=command.timestamp,
        transaction_id=command.transaction_id,
        id_tag_info=command.id_tag_info or IdTagInfo(AuthorizationStatus.ACCEPTED),
        reservation_id=command.reservation_id,
        station_transaction_id=command.station_transaction_id,
        seq_no=command.seq_no,
        offline=command.offline,
    )


def _stop_of(
    command: c.RecordTransactionEvent, transaction_id: int, state: StationState
) -> c.StopTransaction:
    session = state.sessions.get(transaction_id)
    meter_stop = command.meter_reading
    if meter_stop is None:
        meter_stop = session.meter_start if session is not None else 0
    return c.StopTransaction(
        command_id=command.command_id,
        transaction_id=transaction_id,
        meter_stop=meter_stop,
        timestamp=command.timestamp,
        id_tag=command.id_tag,
        id_tag_info=command.id_tag_info,
        reason=command.reason,
        transaction_data=command.meter_value,
        station_transaction_id=command.station_transaction_id,
        seq_no=command.seq_no,
        offline=command.offline,
    )
