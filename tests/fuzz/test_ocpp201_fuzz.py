"""Issue 17: the hostile frames of issue 10 and 2.0.1-shaped payloads with wrong types,
sent on an ``ocpp2.0.1`` connection to a served node (on SQLite, then on PostgreSQL).
Every CALL gets a CALLRESULT or the CALLERROR OCPP-J 2.0.1 names for its defect (never
a 1.6-only name such as FormationViolation), the connection stays open, a station
beside it keeps its round trip, and the node starts again with nothing quarantined.

Bounded: about 400 frames per store, derandomized (``CHARGELEDGER_FUZZ_RANDOM=1``
draws new ones)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from websockets.typing import Subprotocol

from tests.e2e.conftest import start_node
from tests.fuzz import ocpp201_frames as frames201
from tests.fuzz.fuzz_support import (
    FUZZ,
    Fuzzed,
    Fuzzer,
    WellBehavedStation,
    check_round_trips_and_restart,
)
from tests.fuzz.ocpp_frames import Case

pytestmark = pytest.mark.timeout(240)

OCPP201 = [Subprotocol("ocpp2.0.1")]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[Fuzzed]:
    folder = tmp_path_factory.mktemp("fuzz201")
    node = start_node(folder, store=store_url)
    watcher = WellBehavedStation(node, "GOOD-2")
    fuzzer: Fuzzer | None = None
    try:
        watcher.start()
        fuzzer = Fuzzer(node, "FUZZ-201", subprotocols=OCPP201)
        assert fuzzer.ws.subprotocol == "ocpp2.0.1"
        yield Fuzzed(node, fuzzer, watcher, folder)
    finally:
        if fuzzer is not None:
            fuzzer.close()
        watcher.stop()
        node.stop()


def test_the_hostile_frames_on_a_2_0_1_connection(fuzzed: Fuzzed) -> None:
    for case in frames201.HOSTILE:
        assert not case.expect & frames201.ONLY_16, case.what
        fuzzed.fuzzer.exchange(case)


@settings(FUZZ, max_examples=100)
@given(case=frames201.valid_calls())
def test_valid_2_0_1_payloads_of_every_station_action_are_answered(
    fuzzed: Fuzzed, case: Case
) -> None:
    fuzzed.fuzzer.exchange(case)


@settings(FUZZ, max_examples=200)
@given(case=frames201.payload_defects())
def test_a_defect_in_a_2_0_1_payload_gets_the_callerror_ocpp_j_2_0_1_names(
    fuzzed: Fuzzed, case: Case
) -> None:
    assert not case.expect & frames201.ONLY_16, case.what
    fuzzed.fuzzer.exchange(case)


@settings(FUZZ, max_examples=100)
@given(case=frames201.frame_defects())
def test_a_malformed_frame_on_a_2_0_1_connection_is_refused_and_the_connection_stays_open(
    fuzzed: Fuzzed, case: Case
) -> None:
    assert not case.expect & frames201.ONLY_16, case.what
    fuzzed.fuzzer.exchange(case)


def test_beside_the_2_0_1_fuzzer_a_station_keeps_its_round_trip_and_the_node_restarts(
    fuzzed: Fuzzed,
) -> None:
    check_round_trips_and_restart(fuzzed)
