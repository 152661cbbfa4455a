"""Issue 10, proof: hostile OCPP-J frames sent to a served node (``chargeledger serve``,
on SQLite, then on PostgreSQL) over a real WebSocket. Every CALL gets a CALLRESULT or
the CALLERROR OCPP-J names for its defect, nothing else answers, the connection stays
open, a well-behaved ``ocpp`` station beside the fuzzer keeps its heartbeat round trip,
and the node starts again on the same store with nothing quarantined.

The examples are derandomized so that ``make test`` is repeatable; set
``CHARGELEDGER_FUZZ_RANDOM=1`` to draw new ones (``chargeledger bench fuzz`` runs a
million frames of the same kinds).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings

from tests.e2e.conftest import start_node
from tests.fuzz import ocpp_frames as frames
from tests.fuzz.fuzz_support import (
    FUZZ,
    Fuzzed,
    Fuzzer,
    WellBehavedStation,
    check_round_trips_and_restart,
)
from tests.fuzz.ocpp_frames import Case

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[Fuzzed]:
    folder = tmp_path_factory.mktemp("fuzz")
    node = start_node(folder, store=store_url)
    watcher = WellBehavedStation(node, "GOOD-1")
    fuzzer: Fuzzer | None = None
    try:
        watcher.start()
        fuzzer = Fuzzer(node, "FUZZ-1")
        yield Fuzzed(node, fuzzer, watcher, folder)
    finally:
        if fuzzer is not None:
            fuzzer.close()
        watcher.stop()
        node.stop()


HOSTILE = [
    # Issue 10's reproductions, each once by hand.
    *(
        Case(
            f'[2,"\\u0000id\\u0000","StatusNotification",{{"connectorId":{value},'
            '"errorCode":"NoError","status":"Available"}]',
            frozenset({code}),
            f"StatusNotification connectorId {value}",
        )
        for value, code in [
            ("1.0", frames.TYPE),
            ("2e0", frames.TYPE),
            ("0.0", frames.TYPE),
            ("1e308", frames.TYPE),
            ("-1", frames.PROPERTY),
            ("1000", frames.PROPERTY),
            (str(2**63), frames.PROPERTY),
        ]
    ),
    Case(
        frames.call_text(
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 2**63, "timestamp": "2024-01-01T00:00Z"},
        ),
        frozenset({frames.PROPERTY}),
        "meterStart 2^63",
    ),
    Case(
        frames.call_text(
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "0000-01-01T00:00:00Z"},
        ),
        frozenset({frames.PROPERTY}),
        "a year-0000 timestamp",
    ),
    Case(
        frames.call_text(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Available", "info": "\ud800"},
        ),
        frozenset({frames.FORMATION}),
        "a lone surrogate in info",
    ),
    Case(
        frames.call_text("DataTransfer", {"vendorId": "v", "data": "\udfff"}),
        frozenset({frames.FORMATION}),
        "a lone surrogate in DataTransfer data",
    ),
    Case('[2,"\\ud800","Heartbeat",{}]', frozenset({frames.FORMATION}), "id \\ud800", "\ud800"),
    # U+0000: PostgreSQL stores no text with it; taken in, it failed boots, transactions
    # (InternalError) and every later twin flush on a PostgreSQL node.
    *(
        Case(frames.call_text(action, payload), frozenset({frames.PROPERTY}), f"U+0000 {action}")
        for action, payload in [
            ("BootNotification", {"chargePointVendor": "a\x00b", "chargePointModel": "m"}),
            ("Authorize", {"idTag": "T\x00"}),
            ("DataTransfer", {"vendorId": "v", "data": "\x00"}),
            (
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Available", "info": "\x00"},
            ),
        ]
    ),
]


def test_the_hostile_frames_of_issue_10(fuzzed: Fuzzed) -> None:
    for case in HOSTILE:
        fuzzed.fuzzer.exchange(case)


@settings(FUZZ, max_examples=200)
@given(case=frames.valid_calls())
def test_valid_payloads_of_every_station_action_are_answered(fuzzed: Fuzzed, case: Case) -> None:
    fuzzed.fuzzer.exchange(case)


@settings(FUZZ, max_examples=350)
@given(case=frames.payload_defects())
def test_a_defect_in_a_payload_gets_the_callerror_ocpp_j_names(fuzzed: Fuzzed, case: Case) -> None:
    fuzzed.fuzzer.exchange(case)


@settings(FUZZ, max_examples=200)
@given(case=frames.frame_defects() | frames.surrogate_ids())
def test_a_malformed_frame_is_refused_and_the_connection_stays_open(
    fuzzed: Fuzzed, case: Case
) -> None:
    fuzzed.fuzzer.exchange(case)


def test_beside_the_fuzzer_a_station_keeps_its_round_trip_and_the_node_restarts(
    fuzzed: Fuzzed,
) -> None:
    check_round_trips_and_restart(fuzzed)
