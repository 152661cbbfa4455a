"""Random command sequences with reservations mixed in never break the reservation
rules, and the state is always the fold of the events decided so far."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import DomainError
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.station import StationState, decide, evolve, fold, initial_state
from tests.unit.domain.operation_scenario import PAST_UNTIL, UNTIL, cancel, reserve
from tests.unit.domain.scenario import AT, twin
from tests.unit.domain.strategies import check_invariants, numbered, station_commands

RESERVATION_IDS = st.integers(1, 8)
PREVIOUS = "previous"
"""An outcome's target standing for the operator command just before it."""
SNAPSHOTS = st.sampled_from([twin(), twin(c1="Available", c2="Available")])

reservation_commands = st.one_of(
    st.builds(
        lambda conn, tag, until, snap: reserve(connector=conn, tag=tag, until=until, snapshot=snap),
        st.integers(0, 2),
        st.sampled_from(["A", "B"]),
        st.sampled_from([UNTIL, "2026-01-01T03:00:00+00:00"]),
        SNAPSHOTS,
    ),
    st.builds(lambda rid: cancel(reservation_id=rid), RESERVATION_IDS),
    st.builds(
        lambda rid, now: c.ExpireReservation(f"expire:{rid}:{now}", rid, now),
        RESERVATION_IDS,
        st.sampled_from([AT, PAST_UNTIL]),
    ),
    st.builds(
        lambda kind, status: c.RecordOutcome(
            f"{PREVIOUS}:{kind}", PREVIOUS, kind, {"status": status}
        ),
        st.sampled_from(["accepted", "accepted", "rejected", "timed_out", "expired"]),
        st.sampled_from(["Accepted", "Occupied", "Rejected"]),
    ),
    st.builds(
        lambda conn, tag, rid, stamp: c.StartTransaction(
            command_id=f"start:{conn}:{tag}:{rid}:{stamp}",
            connector_id=conn,
            id_tag=tag,
            meter_start=0,
            timestamp=stamp,
            transaction_id=0,
            id_tag_info=IdTagInfo("Accepted"),
            reservation_id=rid,
        ),
        st.integers(1, 2),
        st.sampled_from(["A", "B"]),
        st.one_of(st.none(), RESERVATION_IDS),
        st.sampled_from(["t1", "t2"]),
    ),
)

answers = st.builds(
    lambda kind, status: c.RecordOutcome(f"{PREVIOUS}:{kind}", PREVIOUS, kind, {"status": status}),
    st.sampled_from(["accepted", "accepted", "rejected", "timed_out", "expired"]),
    st.sampled_from(["Accepted", "Occupied", "Rejected"]),
)
steps = st.one_of(
    station_commands.map(lambda command: [command]),
    reservation_commands.map(lambda command: [command]),
    st.tuples(reservation_commands, answers).map(list),  # mostly a reserve, then its answer
)
mixed = st.lists(steps, max_size=30).map(lambda nested: [cmd for step in nested for cmd in step])


def with_reservation_ids(commands: list[c.Command]) -> list[c.Command]:
    """Each ReserveNow gets a fresh reservation id, as the sequence would give it; an
    outcome for ``PREVIOUS`` answers the operator command before it."""
    ready: list[c.Command] = []
    last = "op-none"
    for n, command in enumerate(numbered(commands, [0])):
        if isinstance(command, c.RequestReserveNow):
            command = replace(command, reservation_id=n + 1)
        if isinstance(command, c.OperatorCommand):
            last = command.command_id
        if isinstance(command, c.RecordOutcome) and command.target_command_id == PREVIOUS:
            command = replace(
                command, command_id=f"{last}:{command.outcome}", target_command_id=last
            )
        ready.append(command)
    return ready


def check_reservations(state: StationState, history: list[e.Event]) -> None:
    per_connector = Counter(
        r.connector_id for r in state.reservations.values() if r.connector_id != 0
    )
    assert all(n <= 1 for n in per_connector.values()), (
        f"a connector reserved twice: {per_connector}"
    )
    requested = {ev.reservation_id for ev in history if isinstance(ev, e.ReserveNowRequested)}
    assert set(state.reservations) <= requested
    ended: set[int] = set()
    for event in history:
        if isinstance(event, e.ReservationEnded):
            assert event.reservation_id not in ended, (
                f"reservation {event.reservation_id} ended twice"
            )
            ended.add(event.reservation_id)
        elif isinstance(event, e.ReservationConfirmed | e.ReservationChangeRefused):
            assert event.reservation_id not in ended, "a reservation changed after its end"
    assert not ended & set(state.reservations), "an ended reservation is still live"


@settings(max_examples=300, deadline=None)
@given(mixed)
def test_no_sequence_with_reservations_breaks_the_rules(commands: list[c.Command]) -> None:
    state = initial_state
    history: list[e.Event] = []
    for command in with_reservation_ids(commands):
        try:
            decided = decide(command, state)
        except DomainError:
            continue
        for event in decided:
            state = evolve(state, event)
        history += decided
        check_invariants(state, history)
        check_reservations(state, history)
    assert fold(history) == state
