"""What the station aggregate remembers of each OCPP 2.0.1 transaction, by the
station's own ``transactionId``: our transaction id, the ``seqNo``s of the messages
that were recorded (the one that opened it, the one that ended it), and whether it
ended. ``verdict`` decides what a TransactionEvent is against it; the decision that
follows is ``transaction_events``'.

In OCPP 2.0.1 a station numbers the messages of its transactions (``seqNo``, one
counter per station) and sends them again, in order, when it missed our answer or
was offline; the network can still deliver a repeat or a message out of order. So a
seqNo already recorded is a repeat, anything after the end is late, and whichever
message arrives first opens the transaction: one transaction whatever the network did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from chargeledger.domain import events as e
from chargeledger.domain.enums import TransactionEventType

if TYPE_CHECKING:
    from chargeledger.domain.station_state import StationState

ENDED_KEPT = 100
"""How many ended 2.0.1 transactions a station remembers to recognise a late message;
a message of one ended longer ago would read as news of a transaction not seen before."""


@dataclass(frozen=True)
class TrackedTransaction:
    transaction_id: int
    seq_nos: frozenset[int]
    ended: bool = False


class Verdict(StrEnum):
    OPENS = "opens"
    """The first news of the transaction, not its end: it starts."""
    OPENS_AND_ENDS = "opens-and-ends"
    """The first news is its end (the rest lost or still on the way): started and
    stopped at once."""
    ENDS = "ends"
    CONTINUES = "continues"
    """An update of an open transaction, or its Started arriving after a later message
    opened it: telemetry only, nothing recorded."""
    REPEAT = "repeat"
    """A seqNo already recorded: a retransmission; nothing new, answered the same."""
    LATE = "late"
    """A message of a transaction already ended: nothing changes."""


def verdict(
    track: TrackedTransaction | None, event_type: TransactionEventType, seq_no: int
) -> Verdict:
    """What a TransactionEvent of ``event_type`` numbered ``seq_no`` is, given what the
    station aggregate remembers of its transaction (``None``: nothing)."""
    ending = event_type == TransactionEventType.ENDED
    if track is None:
        return Verdict.OPENS_AND_ENDS if ending else Verdict.OPENS
    if seq_no in track.seq_nos:
        return Verdict.REPEAT
    if track.ended:
        return Verdict.LATE
    return Verdict.ENDS if ending else Verdict.CONTINUES


def corrected(state: StationState, event: e.TransactionStartCorrected) -> StationState:
    """The open session starts where its late Started says; its seqNo is recorded."""
    session = state.sessions.get(event.transaction_id)
    track = state.station_transactions.get(event.station_transaction_id)
    if session is None or track is None:
        return state
    sessions = dict(state.sessions)
    sessions[event.transaction_id] = replace(
        session, meter_start=event.meter_start, started_at=event.started_at
    )
    recorded = replace(track, seq_nos=track.seq_nos | {event.seq_no})
    return replace(
        state,
        sessions=MappingProxyType(sessions),
        station_transactions=_with(
            state.station_transactions, event.station_transaction_id, recorded
        ),
    )


def tracked_after(
    state: StationState, event: e.TransactionStarted | e.TransactionStopped
) -> Mapping[str, TrackedTransaction]:
    """``state.station_transactions`` after a session event (unchanged for 1.6's)."""
    tracks = state.station_transactions
    key = event.station_transaction_id
    if key is None:
        return tracks
    seq = frozenset() if event.seq_no is None else frozenset({event.seq_no})
    if isinstance(event, e.TransactionStarted):
        return _with(tracks, key, TrackedTransaction(event.transaction_id, seq))
    current = tracks.get(key) or TrackedTransaction(event.transaction_id, frozenset())
    ended = replace(current, seq_nos=current.seq_nos | seq, ended=True)
    return _with(tracks, key, ended)


def _with(
    tracks: Mapping[str, TrackedTransaction], key: str, track: TrackedTransaction
) -> Mapping[str, TrackedTransaction]:
    kept = {k: t for k, t in tracks.items() if k != key}
    kept[key] = track
    ended = [k for k, t in kept.items() if t.ended]
    for old in ended[: max(0, len(ended) - ENDED_KEPT)]:
        del kept[old]
    return MappingProxyType(kept)
