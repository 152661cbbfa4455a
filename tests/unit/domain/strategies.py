"""Hypothesis strategies: random station command sequences, and the station invariants."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from hypothesis import strategies as st

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.enums import UnknownStations
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.station import REMOTE_START, StationState
from tests.unit.domain.scenario import (
    AFTER_EXPIRY,
    AT,
    READING,
    availability,
    boot,
    remote_stop,
    reset,
    start,
    trigger,
    twin,
    unlock,
)

CONNECTORS = st.integers(1, 3)
TAGS = st.sampled_from(["A", "B", "C"])
TARGETS = st.integers(0, 24).map(lambda n: f"op-{n}")
TRANSACTIONS = st.integers(1, 6)
STAMPS = st.sampled_from(["t1", "t2", "t3"])
SNAPSHOTS = st.sampled_from(
    [twin(), twin(c1="Available", c2="Available", c3="Faulted"), twin(c0="Unavailable")]
)


def _start_transaction(connector: int, tag: str, meter: int, stamp: str, verdict: str) -> c.Command:
    return c.StartTransaction(
        command_id=f"start:{connector}:{tag}:{meter}:{stamp}",
        connector_id=connector,
        id_tag=tag,
        meter_start=meter,
        timestamp=stamp,
        transaction_id=0,  # allocated when the command runs
        id_tag_info=IdTagInfo(verdict),
    )


def _stop_transaction(transaction_id: int) -> c.Command:
    return c.StopTransaction(
        command_id=f"stop:{transaction_id}",
        transaction_id=transaction_id,
        meter_stop=9000,
        timestamp="t9",
    )


def _meter_values(transaction_id: int, connector: int, n: int) -> c.Command:
    return c.RecordMeterValues(
        command_id=f"meter:{transaction_id}:{n}",
        connector_id=connector,
        transaction_id=transaction_id,
        meter_value=READING,
    )


operator_commands = st.one_of(
    st.builds(
        lambda conn, tag, at, snap: start(connector=conn, tag=tag, at=at, snapshot=snap),
        CONNECTORS,
        TAGS,
        st.sampled_from([AT, AFTER_EXPIRY]),
        SNAPSHOTS,
    ),
    st.builds(lambda tx: remote_stop(transaction_id=tx), TRANSACTIONS),
    st.builds(lambda conn: unlock(connector=conn), CONNECTORS),
    st.builds(lambda kind: reset(kind=kind), st.sampled_from(["Soft", "Hard"])),
    st.builds(
        lambda conn, kind: availability(connector=conn, kind=kind),
        st.integers(0, 3),
        st.sampled_from(["Operative", "Inoperative"]),
    ),
    st.builds(
        lambda msg: trigger(message=msg), st.sampled_from(["Heartbeat", "StatusNotification"])
    ),
)

station_commands = st.one_of(
    operator_commands,
    st.builds(
        lambda known, policy: boot(known, policy),
        st.booleans(),
        st.sampled_from(UnknownStations),
    ),
    st.builds(
        lambda target, n: c.MarkDispatched(f"{target}:dispatch", target, 1, n, AT),
        TARGETS,
        st.integers(1, 3),
    ),
    st.builds(
        lambda target, kind: c.RecordOutcome(f"{target}:{kind}", target, kind),
        TARGETS,
        st.sampled_from(["accepted", "rejected", "timed_out", "expired", "failed"]),
    ),
    st.builds(
        _start_transaction,
        CONNECTORS,
        TAGS,
        st.sampled_from([0, 100]),
        STAMPS,
        st.sampled_from(["Accepted", "Blocked", "Invalid"]),
    ),
    st.builds(_stop_transaction, TRANSACTIONS),
    st.builds(_meter_values, TRANSACTIONS, CONNECTORS, st.integers(0, 3)),
)


def numbered(commands: Sequence[c.Command], next_transaction: list[int]) -> list[c.Command]:
    """Operator commands get ``op-N`` ids by position; starts get allocated transaction ids."""
    ready: list[c.Command] = []
    for n, command in enumerate(commands):
        if isinstance(command, c.OperatorCommand):
            command = replace(command, command_id=f"op-{n}")
        if isinstance(command, c.StartTransaction):
            next_transaction[0] += 1
            command = replace(command, transaction_id=next_transaction[0])
        ready.append(command)
    return ready


def check_invariants(state: StationState, history: Sequence[e.Event]) -> None:
    """One pending remote start per connector, one open session per connector, one
    terminal outcome per command (and nothing dispatched after it)."""
    holders: Counter[int] = Counter(
        command.connector_id
        for command in state.open_commands.values()
        if command.name == REMOTE_START and command.connector_id is not None
    )
    holders.update(state.held_connectors.keys())
    assert all(n <= 1 for n in holders.values()), f"two remote starts hold a connector: {holders}"
    connectors = Counter(session.connector_id for session in state.sessions.values())
    assert all(n <= 1 for n in connectors.values()), f"two open sessions: {connectors}"
    ended: set[str] = set()
    for event in history:
        if isinstance(event, e.TERMINAL_EVENTS):
            command_id = getattr(event, "command_id")  # noqa: B009
            assert command_id not in ended, f"{command_id} ended twice"
            ended.add(command_id)
        if isinstance(event, e.CommandDispatched):
            assert event.command_id not in ended, f"{event.command_id} dispatched after its end"
