"""Scenario files: the shipped examples load; times and durations read as people write
them; a mistake is one line naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargeledger.simulator.scenario import (
    ScenarioError,
    load_scenario,
    parse_at,
    parse_duration,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "scenarios"


def test_the_shipped_examples_load() -> None:
    day = load_scenario(EXAMPLES / "site-day.yaml")
    assert [s.station_id for s in day.stations] == ["OFFICE-01", "OFFICE-AC-01", "OFFICE-AC-02"]
    assert day.speed == 60
    assert [e.at_s for e in day.events] == sorted(e.at_s for e in day.events)
    first = day.events[0]
    assert (first.action, first.id_tag, first.seconds) == ("arrive", "TAG-ALICE", 8.5 * 3600)
    assert first.vehicle is not None and first.vehicle.battery_wh == 77_000
    assert day.stations[0].behaviour.meter_interval_s == 1.0  # 60 s simulated at speed 60
    demo = load_scenario(EXAMPLES / "quick-demo.json")
    assert demo.events[-1].action == "offline" and demo.events[-1].seconds == 40


def test_times_and_durations_read_as_people_write_them() -> None:
    assert parse_at("07:45", "at") == 7 * 3600 + 45 * 60
    assert parse_at("07:45:30", "at") == 7 * 3600 + 45 * 60 + 30
    assert parse_at(90, "at") == 90
    assert parse_duration("1h30m", "stay") == 5400
    assert parse_duration("45m", "stay") == 2700
    assert parse_duration("90s", "stay") == 90
    with pytest.raises(ScenarioError, match="stay: 'soon' is not a duration"):
        parse_duration("soon", "stay")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"events": [{"at": 0, "station": "S", "do": "dance"}]}, r"events\[0\]\.do: 'dance'"),
        ({"events": [{"at": 0, "station": "X", "do": "plug", "connector": 1}]}, "'X' is not in"),
        (
            {"events": [{"at": 0, "station": "S", "do": "plug", "connector": 3}]},
            "S has connectors 1-2",
        ),
        ({"events": [{"at": 0, "station": "S", "do": "tag", "connector": 1}]}, "id_tag: needed"),
        ({"events": [{"at": 0, "station": "S", "do": "offline"}]}, r"events\[0\]\.for"),
        ({"events": [{"at": "25:99", "station": "S", "do": "offline", "for": 1}]}, "time of day"),
        ({"stations": []}, "stations: a list of at least one"),
        ({"stations": [{"id": "S"}, {"id": "S"}]}, "S is named twice"),
        ({"speed": 0}, "speed: 0 is not a positive number"),
    ],
)
def test_a_mistake_is_one_line_naming_the_file_and_the_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    raw: dict[str, object] = {"stations": [{"id": "S", "connectors": 2}], "events": []}
    raw.update(change)
    file = tmp_path / "site.json"
    file.write_text(json.dumps(raw))
    with pytest.raises(ScenarioError, match=message) as raised:
        load_scenario(file)
    assert str(raised.value).startswith(f"{file}: ") and "\n" not in str(raised.value)


def test_a_file_that_is_not_yaml_says_so(tmp_path: Path) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text("stations: [\n")
    with pytest.raises(ScenarioError, match="not valid yaml"):
        load_scenario(file)
    with pytest.raises(ScenarioError, match="cannot read it"):
        load_scenario(tmp_path / "missing.yaml")
