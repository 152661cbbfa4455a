"""OCPP 2.0.1 TransactionEvents on the station decider, as given / when / then, and the
seqNo decision as a property: whatever the network repeats or reorders, one
transaction (I7 for 2.0.1)."""

from __future__ import annotations

from hypothesis import given as for_all
from hypothesis import strategies as st

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.enums import TransactionEventType
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.station import decide, fold
from chargeledger.domain.transaction_tracks import TrackedTransaction, Verdict, verdict
from tests.unit.domain.scenario import booted, dispatched, given, requested, when

STARTED, UPDATED, ENDED = (
    TransactionEventType.STARTED,
    TransactionEventType.UPDATED,
    TransactionEventType.ENDED,
)
AT = "2026-01-01T00:01:00Z"


def tx_event(
    kind: TransactionEventType,
    seq_no: int,
    ours: int = 7,
    station_tx: str = "TX-1",
    reading: int | None = None,
    evse: int = 1,
    tag: str | None = "TAG",
    offline: bool = False,
) -> c.RecordTransactionEvent:
    return c.RecordTransactionEvent(
        command_id=f"session/tx/{station_tx}/{seq_no}",
        event_type=kind,
        station_transaction_id=station_tx,
        seq_no=seq_no,
        connector_id=evse,
        timestamp=AT,
        transaction_id=ours,
        id_tag=tag,
        id_tag_info=None if tag is None else IdTagInfo("Accepted"),
        meter_reading=reading,
        offline=offline,
    )


def opened(ours: int = 7, seq_no: int = 0, meter_start: int = 0, **more: object) -> e.Event:
    return e.TransactionStarted(
        transaction_id=ours,
        connector_id=1,
        id_tag="TAG",
        id_tag_status="Accepted",
        id_tag_expiry=None,
        meter_start=meter_start,
        started_at=AT,
        station_transaction_id="TX-1",
        seq_no=seq_no,
        **more,  # type: ignore[arg-type]
    )


# -- the verdict ----------------------------------------------------------------------


def test_the_first_news_of_a_transaction_opens_it_whichever_message_it_is() -> None:
    assert verdict(None, STARTED, 0) == Verdict.OPENS
    assert verdict(None, UPDATED, 4) == Verdict.OPENS
    assert verdict(None, ENDED, 9) == Verdict.OPENS_AND_ENDS


def test_a_recorded_seq_no_is_a_repeat_and_anything_after_the_end_is_late() -> None:
    open_track = TrackedTransaction(7, frozenset({0}))
    ended_track = TrackedTransaction(7, frozenset({0, 5}), ended=True)
    assert verdict(open_track, STARTED, 0) == Verdict.REPEAT
    assert verdict(open_track, UPDATED, 3) == Verdict.CONTINUES
    assert verdict(open_track, ENDED, 5) == Verdict.ENDS
    assert verdict(ended_track, ENDED, 5) == Verdict.REPEAT
    assert verdict(ended_track, UPDATED, 3) == Verdict.LATE


# -- given / when / then ----------------------------------------------------------------


def test_a_started_event_records_a_session_under_our_id_and_the_station_s() -> None:
    assert when(given(booted()), tx_event(STARTED, 0, reading=1000)) == [opened(meter_start=1000)]


def test_a_retransmitted_started_event_decides_nothing() -> None:
    """I7 (2.0.1): the same seqNo again records nothing."""
    assert when(given(booted(), opened()), tx_event(STARTED, 0, ours=8)) == []


def test_an_update_of_an_open_transaction_is_telemetry() -> None:
    assert when(given(booted(), opened()), tx_event(UPDATED, 1, reading=50)) == []


def test_an_ended_event_stops_the_session_the_station_named() -> None:
    [stop] = when(given(booted(), opened()), tx_event(ENDED, 2, ours=99, reading=800))
    assert isinstance(stop, e.TransactionStopped)
    assert (stop.transaction_id, stop.meter_stop, stop.energy_wh) == (7, 800, 800)
    assert (stop.station_transaction_id, stop.seq_no) == ("TX-1", 2)


def test_an_ended_event_arriving_first_starts_and_stops_the_transaction() -> None:
    decided = when(given(booted()), tx_event(ENDED, 3, reading=900))
    assert [type(event) for event in decided] == [e.TransactionStarted, e.TransactionStopped]


def test_a_started_event_arriving_after_the_end_is_late_and_decides_nothing() -> None:
    history = given(booted(), *when(given(booted()), tx_event(ENDED, 3, reading=900)))
    assert when(history[1:], tx_event(STARTED, 0, ours=8)) == []


def test_a_started_event_arriving_after_a_later_update_corrects_where_the_session_started() -> None:
    history = given(booted(), opened(seq_no=1, meter_start=300))
    [corrected] = when(history, tx_event(STARTED, 0, ours=8, reading=100))
    assert corrected == e.TransactionStartCorrected(
        transaction_id=7,
        connector_id=1,
        meter_start=100,
        started_at=AT,
        station_transaction_id="TX-1",
        seq_no=0,
    )
    after = fold([*history, corrected])
    assert after.sessions[7].meter_start == 100
    assert when([*history, corrected], tx_event(STARTED, 0, ours=9, reading=100)) == []


def test_a_new_transaction_on_the_evse_abandons_the_one_the_station_never_ended() -> None:
    decided = when(given(booted(), opened()), tx_event(STARTED, 0, ours=8, station_tx="TX-2"))
    assert isinstance(decided[0], e.TransactionAbandoned) and decided[0].transaction_id == 7


def test_a_transaction_on_an_evse_held_by_a_remote_start_is_linked_to_it() -> None:
    history = given(booted(), requested("cmd-1"), dispatched("cmd-1"), e.CommandAccepted("cmd-1"))
    [start] = when(history, tx_event(STARTED, 0))
    assert isinstance(start, e.TransactionStarted)
    assert start.remote_start_command_id == "cmd-1"


def test_a_message_sent_offline_says_so_in_the_event_recorded_from_it() -> None:
    """Given a station replaying its queue, when its messages carry ``offline: true``,
    then the Started, Ended and late Started they record say so; the others do not."""
    assert when(given(booted()), tx_event(STARTED, 0, offline=True)) == [opened(offline=True)]
    [stop] = when(given(booted(), opened()), tx_event(ENDED, 2, reading=800, offline=True))
    assert isinstance(stop, e.TransactionStopped) and stop.offline
    [online] = when(given(booted(), opened()), tx_event(ENDED, 2, reading=800))
    assert isinstance(online, e.TransactionStopped) and not online.offline
    history = given(booted(), opened(seq_no=1, meter_start=300))
    [corrected] = when(history, tx_event(STARTED, 0, reading=100, offline=True))
    assert isinstance(corrected, e.TransactionStartCorrected) and corrected.offline


def test_an_update_sent_offline_that_opens_the_transaction_records_its_start_as_offline() -> None:
    [start] = when(given(booted()), tx_event(UPDATED, 3, reading=50, offline=True))
    assert isinstance(start, e.TransactionStarted) and start.offline


# -- the property -----------------------------------------------------------------------


@st.composite
def deliveries(draw: st.DrawFn) -> list[tuple[TransactionEventType, int]]:
    """A transaction's messages (Started 0, Updated 1..n, Ended n+1), each delivered at
    least once, some more than once, in any order."""
    updates = draw(st.integers(0, 4))
    sent = [(STARTED, 0), *((UPDATED, n) for n in range(1, updates + 1)), (ENDED, updates + 1)]
    repeats = draw(st.lists(st.sampled_from(sent), max_size=6))
    return draw(st.permutations([*sent, *repeats]))


@for_all(deliveries())
def test_whatever_the_network_repeats_or_reorders_a_transaction_is_started_and_stopped_once(
    delivered: list[tuple[TransactionEventType, int]],
) -> None:
    """I7 for 2.0.1: one TransactionStarted and one TransactionStopped, of one id."""
    history: list[e.Event] = [booted()]
    for allocated, (kind, seq_no) in enumerate(delivered, start=100):
        state = fold(history)
        history += decide(tx_event(kind, seq_no, ours=allocated, reading=seq_no * 10), state)
    starts = [event for event in history if isinstance(event, e.TransactionStarted)]
    stops = [event for event in history if isinstance(event, e.TransactionStopped)]
    assert len(starts) == 1 and len(stops) == 1
    assert starts[0].transaction_id == stops[0].transaction_id
    final = fold(history)
    assert not final.sessions
    assert final.station_transactions["TX-1"].ended
    kinds = [kind for kind, _ in delivered]
    if kinds.index(STARTED) < kinds.index(ENDED):  # the start came while it was open
        ended_at = max(seq for _, seq in delivered)
        assert stops[0].energy_wh == ended_at * 10  # from the Started's reading, 0


@for_all(deliveries(), st.data())
def test_each_recorded_event_says_offline_exactly_when_its_message_was(
    delivered: list[tuple[TransactionEventType, int]], data: st.DataObject
) -> None:
    """Whatever the order, each session event is recorded from one message (its seqNo)
    and says ``offline`` as that message did."""
    offline = {seq_no: data.draw(st.booleans()) for _, seq_no in delivered}
    history: list[e.Event] = [booted()]
    for allocated, (kind, seq_no) in enumerate(delivered, start=100):
        command = tx_event(kind, seq_no, ours=allocated, offline=offline[seq_no])
        history += decide(command, fold(history))
    recorded = [
        event
        for event in history
        if isinstance(
            event, e.TransactionStarted | e.TransactionStopped | e.TransactionStartCorrected
        )
    ]
    assert recorded
    for event in recorded:
        assert event.seq_no is not None and event.offline == offline[event.seq_no]
