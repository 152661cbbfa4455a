"""A command in doubt is sent again only when asked for explicitly, once per attempt."""

from __future__ import annotations

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.station import decide, fold

AT = "2026-01-01T00:00:00+00:00"
HISTORY = [
    e.RemoteStartRequested(
        command_id="cmd-1", connector_id=1, id_tag="TAG", requested_at=AT, expires_at=AT
    ),
    e.CommandDispatched("cmd-1", 1, 7, AT),
]


def test_a_dispatched_command_is_not_sent_again_by_a_plain_dispatch() -> None:
    """I4: a dispatched command is not dispatched again by a plain dispatch."""
    assert decide(c.MarkDispatched("d2", "cmd-1", 2, 8, AT), fold(HISTORY)) == []


def test_a_redispatch_takes_the_next_attempt_only() -> None:
    state = fold(HISTORY)
    assert decide(c.MarkDispatched("d2", "cmd-1", 2, 8, AT, redispatch=True), state) == [
        e.CommandDispatched("cmd-1", 2, 8, AT)
    ]
    assert decide(c.MarkDispatched("d3", "cmd-1", 3, 8, AT, redispatch=True), state) == []
    assert decide(c.MarkDispatched("d1", "cmd-1", 1, 8, AT, redispatch=True), state) == []
