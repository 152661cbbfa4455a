"""The local authorization list on the station decider, as given / when / then
(domain/local_list.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.errors import (
    CommandPendingError,
    InvalidCommandError,
    LocalListOutOfSyncError,
    LocalListVersionError,
)
from chargeledger.domain.station import fold
from tests.unit.domain.operation_scenario import common, local_list_update
from tests.unit.domain.scenario import booted, dispatched, given, when

REGISTRY = {"A": {"status": "Accepted"}, "B": {"status": "Blocked"}}


def sent(
    version: int, update_type: str, entries: list[dict[str, Any]], command_id: str = "list-1"
) -> e.Event:
    return e.SendLocalListRequested(
        **{k: v for k, v in common(command_id).items() if k != "twin"},
        list_version=version,
        update_type=update_type,
        local_authorization_list=entries,
    )


FULL_AB = [
    {"id_tag": "A", "id_tag_info": {"status": "Accepted"}},
    {"id_tag": "B", "id_tag_info": {"status": "Blocked"}},
]


def installed(
    version: int = 1, update_type: str = "Full", entries: Any = None, by: str = "list-1"
) -> e.Event:
    return e.LocalListInstalled(
        list_version=version,
        update_type=update_type,
        local_authorization_list=FULL_AB if entries is None else entries,
        installed_by=by,
    )


def answered(
    command_id: str, outcome: str, status: str | None = None, **result: Any
) -> c.RecordOutcome:
    answer = {"status": status, **result} if status else dict(result)
    return c.RecordOutcome(f"{command_id}:{outcome}", command_id, outcome, answer)


def test_a_full_update_sends_the_whole_registry_as_version_one() -> None:
    assert when(given(booted()), local_list_update(REGISTRY)) == [sent(1, "Full", FULL_AB)]


def test_before_a_full_update_was_installed_a_differential_one_is_refused() -> None:
    with pytest.raises(LocalListOutOfSyncError, match="send a Full update first"):
        when(given(booted()), local_list_update(REGISTRY, "Differential"))


def test_the_stations_accepted_installs_the_list() -> None:
    history = given(booted(), sent(1, "Full", FULL_AB), dispatched("list-1"))
    decided = when(history, answered("list-1", "accepted", "Accepted"))
    assert decided[1] == installed()
    state = fold([*history, *decided]).local_list
    assert (state.version, dict(state.entries or {})) == (1, REGISTRY)


def test_a_differential_update_sends_only_what_changed_since_the_installed_list() -> None:
    history = given(booted(), sent(1, "Full", FULL_AB), e.CommandAccepted("list-1"), installed())
    registry = {
        "A": {"status": "Blocked"},
        "C": {"status": "Accepted", "expiry_date": "2027-01-01T00:00:00Z"},
    }
    assert when(history, local_list_update(registry, "Differential", "list-2")) == [
        sent(
            2,
            "Differential",
            [
                {"id_tag": "A", "id_tag_info": {"status": "Blocked"}},
                {"id_tag": "B", "id_tag_info": None},
                {
                    "id_tag": "C",
                    "id_tag_info": {"status": "Accepted", "expiry_date": "2027-01-01T00:00:00Z"},
                },
            ],
            "list-2",
        )
    ]


def test_an_installed_differential_update_changes_the_entries_it_names() -> None:
    diff = [
        {"id_tag": "B", "id_tag_info": None},
        {"id_tag": "C", "id_tag_info": {"status": "Accepted"}},
    ]
    state = fold(
        given(booted(), installed(), installed(2, "Differential", diff, "list-2"))
    ).local_list
    assert (state.version, dict(state.entries or {})) == (
        2,
        {"A": {"status": "Accepted"}, "C": {"status": "Accepted"}},
    )


def test_a_list_version_may_be_given_but_not_below_one() -> None:
    assert (
        when(given(booted()), local_list_update(REGISTRY, version=40))[0].payload()["list_version"]
        == 40
    )
    with pytest.raises(InvalidCommandError, match="list_version"):
        when(given(booted()), local_list_update(REGISTRY, version=0))
    with pytest.raises(InvalidCommandError, match="update type"):
        when(given(booted()), local_list_update(REGISTRY, update_type="Partial"))


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("rejected", "VersionMismatch"), ("rejected", "Failed"), ("timed_out", None)],
)
def test_a_mismatch_a_failure_or_no_answer_leaves_the_stations_list_unknown(
    outcome: str, status: str | None
) -> None:
    history = given(booted(), installed(), sent(2, "Full", FULL_AB, "list-2"), dispatched("list-2"))
    decided = when(history, answered("list-2", outcome, status))
    assert isinstance(decided[1], e.LocalListOutOfSync)
    after = [*history, *decided]
    with pytest.raises(LocalListOutOfSyncError):
        when(after, local_list_update(REGISTRY, "Differential", "list-3"))
    assert when(after, local_list_update(REGISTRY, "Full", "list-4")) != []


@pytest.mark.parametrize(("outcome", "status"), [("rejected", "NotSupported"), ("expired", None)])
def test_a_list_the_station_never_took_changes_nothing(outcome: str, status: str | None) -> None:
    history = given(booted(), installed(), sent(2, "Full", FULL_AB, "list-2"))
    assert len(when(history, answered("list-2", outcome, status))) == 1


def test_a_version_report_other_than_ours_leaves_the_list_unknown() -> None:
    ask = e.GetLocalListVersionRequested(
        **{k: v for k, v in common("ver-1").items() if k != "twin"}
    )
    history = given(booted(), installed(), ask, dispatched("ver-1"))
    same = when(history, answered("ver-1", "accepted", listVersion=1))
    assert same == [e.CommandAccepted("ver-1", {"listVersion": 1})]
    other = when(history, answered("ver-1", "accepted", listVersion=5))
    assert other[1] == e.LocalListOutOfSync(
        our_version=1,
        station_version=5,
        reason="the station reports list version 5, we installed 1",
    )
    state = fold([*history, *other]).local_list
    assert (state.version, state.entries) == (5, None)


def test_one_list_update_at_a_time() -> None:
    history = given(booted(), sent(1, "Full", FULL_AB))
    assert when(history, local_list_update(REGISTRY, command_id="list-2")) == [
        e.CommandMerged("list-2", "list-1")
    ]
    with pytest.raises(CommandPendingError):
        when(history, local_list_update({"A": {"status": "Accepted"}}, command_id="list-3"))


# --- issue 11 item 11: explicit entries, a version that must grow ------------------------


def explicit(
    entries: dict[str, Any], update_type: str = "Full", version: int | None = None
) -> c.RequestSendLocalList:
    return replace(local_list_update({}, update_type, version=version), entries=entries)


def test_explicit_entries_are_sent_instead_of_the_registry() -> None:
    decided = when(given(booted()), explicit({"X": {"status": "Accepted"}}))
    assert decided == [sent(1, "Full", [{"id_tag": "X", "id_tag_info": {"status": "Accepted"}}])]


def test_a_differential_update_sends_exactly_the_given_entries() -> None:
    history = given(booted(), installed(3))
    update = explicit({"B": None, "C": {"status": "Accepted"}}, "Differential")
    assert when(history, update) == [
        sent(
            4,
            "Differential",
            [
                {"id_tag": "B", "id_tag_info": None},
                {"id_tag": "C", "id_tag_info": {"status": "Accepted"}},
            ],
        )
    ]


def test_a_full_list_cannot_remove_a_tag() -> None:
    with pytest.raises(InvalidCommandError, match="Differential"):
        when(given(booted()), explicit({"B": None}))


@pytest.mark.parametrize("version", [2, 3])
def test_a_list_version_not_above_the_stations_is_refused_with_the_reason(version: int) -> None:
    with pytest.raises(LocalListVersionError, match="not above 3, the version the station holds"):
        when(given(booted(), installed(3)), local_list_update(REGISTRY, version=version))
    assert when(given(booted(), installed(3)), local_list_update(REGISTRY, version=4)) != []
