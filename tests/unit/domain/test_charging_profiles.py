"""Charging profiles are checked before they are stored or sent, as given / when / then
(domain/charging_profiles.py), with a property over schedule periods."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given as for_all
from hypothesis import strategies as st

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.charging_profiles import check_profile
from chargeledger.domain.errors import InvalidChargingProfileError, TransactionNotFoundError
from tests.unit.domain.operation_scenario import common, set_profile
from tests.unit.domain.scenario import booted, given, start, started, when


def profile(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "charging_profile_id": 5,
        "stack_level": 1,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Absolute",
        "charging_schedule": {
            "charging_rate_unit": "W",
            "charging_schedule_period": [
                {"start_period": 0, "limit": 11000},
                {"start_period": 1800, "limit": 7400.5, "number_phases": 3},
            ],
        },
    }
    base.update(changes)
    return base


def schedule(**changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(profile())
    changed["charging_schedule"].update(changes)
    return changed


def periods(*pairs: tuple[int, float]) -> dict[str, Any]:
    return schedule(charging_schedule_period=[{"start_period": s, "limit": v} for s, v in pairs])


def test_a_valid_profile_is_requested_as_it_is() -> None:
    decided = when(given(booted()), set_profile(profile()))
    assert decided == [
        e.SetChargingProfileRequested(
            **{k: v for k, v in common("prof-1").items() if k != "twin"},
            connector_id=0,
            cs_charging_profiles=profile(),
        )
    ]


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        (
            periods((60, 16)),
            "charging_schedule_period[0].start_period: the first period must start at 0",
        ),
        (
            periods((0, 16), (600, 8), (300, 10)),
            "charging_schedule_period[2].start_period: 300 must be after",
        ),
        (periods((0, 16), (0, 8)), "charging_schedule_period[1].start_period"),
        (periods((0, 0)), "charging_schedule_period[0].limit: must be a positive number"),
        (periods((0, -6)), "charging_schedule_period[0].limit: must be a positive number"),
        (periods((0, 7.35)), "has more than one decimal"),
        (schedule(charging_schedule_period=[]), "needs at least one period"),
        (
            schedule(charging_rate_unit="kW"),
            "charging_schedule.charging_rate_unit: 'kW' is not one of W, A",
        ),
        (schedule(duration=0), "charging_schedule.duration: must be positive"),
        (
            schedule(
                charging_schedule_period=[{"start_period": 0, "limit": 6, "number_phases": 4}]
            ),
            "number_phases: must be 1, 2 or 3",
        ),
        (profile(stack_level=-1), "stack_level: must be 0 or more"),
        (profile(charging_profile_purpose="Whatever"), "charging_profile_purpose: 'Whatever'"),
        (profile(charging_profile_kind="Recurring"), "recurrency_kind: None is not one of Daily"),
        (profile(recurrency_kind="Daily"), "recurrency_kind: only a Recurring profile"),
        (profile(transaction_id=7), "transaction_id: only a TxProfile names a transaction"),
        (
            profile(valid_from="2026-02-01T00:00:00Z", valid_to="2026-01-01T00:00:00Z"),
            "valid_to: 2026-01-01T00:00:00Z is not after valid_from",
        ),
        (profile(valid_from="yesterday"), "valid_from: 'yesterday' is not an ISO-8601 time"),
        (profile(charging_profile_id="five"), "charging_profile_id: must be an integer"),
        (profile(charging_schedule=None), "charging_schedule: is missing"),
    ],
)
def test_a_malformed_profile_is_refused_naming_the_field(bad: dict[str, Any], names: str) -> None:
    with pytest.raises(
        InvalidChargingProfileError, match=names.replace("[", r"\[").replace("]", r"\]")
    ):
        when(given(booted()), set_profile(bad))


def test_a_charge_point_max_profile_goes_to_connector_0_only() -> None:
    cap = profile(charging_profile_purpose="ChargePointMaxProfile")
    assert when(given(booted()), set_profile(cap, connector=0)) != []
    with pytest.raises(InvalidChargingProfileError, match="send it to connector 0, not 1"):
        when(given(booted()), set_profile(cap, connector=1))


def test_a_tx_profile_needs_a_transaction_open_on_its_connector() -> None:
    tx = profile(charging_profile_purpose="TxProfile")
    with pytest.raises(InvalidChargingProfileError, match="a TxProfile needs a transaction"):
        when(given(booted(), started(7, connector=1)), set_profile(tx, connector=1))
    with_tx = profile(charging_profile_purpose="TxProfile", transaction_id=7)
    with pytest.raises(TransactionNotFoundError):
        when(given(booted()), set_profile(with_tx, connector=1))
    with pytest.raises(TransactionNotFoundError):
        when(given(booted(), started(7, connector=2)), set_profile(with_tx, connector=1))
    assert when(given(booted(), started(7, connector=1)), set_profile(with_tx, connector=1)) != []


def test_a_remote_start_takes_a_tx_profile_without_a_transaction() -> None:
    tx = profile(charging_profile_purpose="TxProfile")
    decided = when(
        given(booted()), c.RequestRemoteStart(**{**vars(start()), "charging_profile": tx})
    )
    assert isinstance(decided[0], e.RemoteStartRequested)
    assert decided[0].payload()["charging_profile"] == tx
    for bad, names in [
        (profile(), "a remote start takes a TxProfile, not a TxDefaultProfile"),
        ({**tx, "transaction_id": 3}, "leave it out on a remote start"),
    ]:
        command = c.RequestRemoteStart(**{**vars(start()), "charging_profile": bad})
        with pytest.raises(InvalidChargingProfileError, match=names):
            when(given(booted()), command)


def test_clearing_takes_only_known_purposes_and_stack_levels() -> None:
    clear = c.RequestClearChargingProfile(charging_profile_purpose="Nope", **common("clr-1"))
    with pytest.raises(InvalidChargingProfileError, match="charging_profile_purpose"):
        when(given(booted()), clear)
    everything = c.RequestClearChargingProfile(**common("clr-2"))
    assert when(given(booted()), everything)[0].payload() == {
        "id": None,
        "connector_id": None,
        "charging_profile_purpose": None,
        "stack_level": None,
    }


LIMITS = st.integers(1, 100_000).map(lambda tenths: tenths / 10)


@for_all(st.lists(st.integers(1, 86_400), unique=True, max_size=12), st.data())
def test_periods_in_order_from_0_with_positive_limits_pass(starts: list[int], data: Any) -> None:
    ordered = [0, *sorted(starts)]
    rows = [{"start_period": s, "limit": data.draw(LIMITS)} for s in ordered]
    check_profile(schedule(charging_schedule_period=rows))


@for_all(st.lists(st.integers(0, 86_400), min_size=2, max_size=12), st.randoms())
def test_periods_out_of_order_or_repeated_are_refused(starts: list[int], shuffle: Any) -> None:
    tail = list(starts)
    shuffle.shuffle(tail)
    if tail == sorted(set(tail)) and 0 not in tail:
        tail.append(tail[-1])  # in order as drawn: repeat the last to break the order
    periods_ = [{"start_period": s, "limit": 10} for s in [0, *tail]]
    with pytest.raises(InvalidChargingProfileError, match="start_period"):
        check_profile(schedule(charging_schedule_period=periods_))
