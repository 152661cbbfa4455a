"""Scenario files: a site's stations and what happens to them over a day, in YAML or
JSON (the format is in docs/scenarios.md). ``load_scenario`` checks a file and says
what is wrong in one line; ``run_scenario`` plays it against a CSMS."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from chargeledger.errors import ChargeledgerError
from chargeledger.simulator.charger import Charger
from chargeledger.simulator.charger_parts import Behaviour
from chargeledger.simulator.fleet import StationRun, run_station, show_progress
from chargeledger.simulator.power import Vehicle

ACTIONS = ("arrive", "plug", "tag", "unplug", "offline")
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class ScenarioError(ChargeledgerError, ValueError):
    """A scenario file that cannot be played; the message names the file and the field."""


@dataclass(frozen=True)
class StationSpec:
    station_id: str
    behaviour: Behaviour


@dataclass(frozen=True)
class Event:
    at_s: float
    station_id: str
    action: str
    connector: int | None = None
    id_tag: str | None = None
    seconds: float | None = None
    """``stay`` of an arrival, ``for`` of an offline spell."""
    vehicle: Vehicle | None = None


@dataclass(frozen=True)
class Scenario:
    stations: list[StationSpec]
    events: list[Event]
    speed: float = 1.0
    url: str | None = None
    heartbeat_s: float | None = None
    end_s: float | None = None
    name: str = ""


def parse_duration(value: Any, where: str) -> float:
    """``90``, ``"90s"``, ``"45m"``, ``"2h"`` or ``"1h30m"``: seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    text = str(value).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)([smh])", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ScenarioError(f"{where}: {value!r} is not a duration (e.g. 90, '90s', '45m', '2h')")
    return sum(float(n) * UNITS[u] for n, u in parts)


def parse_at(value: Any, where: str) -> float:
    """``"07:30"`` or ``"07:30:15"`` from the scenario's start, or seconds."""
    if isinstance(value, str) and ":" in value:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", value.strip())
        if not match:
            raise ScenarioError(f"{where}: {value!r} is not a time of day (HH:MM or HH:MM:SS)")
        hours, minutes, seconds = (int(g or 0) for g in match.groups())
        if minutes > 59 or seconds > 59:
            raise ScenarioError(f"{where}: {value!r} is not a time of day (HH:MM or HH:MM:SS)")
        return hours * 3600.0 + minutes * 60.0 + seconds
    return parse_duration(value, where)


def _number(raw: dict[str, Any], key: str, where: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        field = f"{where}.{key}" if where else key
        raise ScenarioError(f"{field}: {value!r} is not a positive number")
    return float(value)


def _vehicle(raw: dict[str, Any], where: str) -> Vehicle | None:
    if not any(k in raw for k in ("battery_kwh", "soc", "max_kw")):
        return None
    soc = raw.get("soc", 20)
    if isinstance(soc, bool) or not isinstance(soc, int | float) or not 0 <= soc <= 100:
        raise ScenarioError(f"{where}.soc: {soc!r} is not a percentage")
    return Vehicle(
        battery_wh=_number(raw, "battery_kwh", where, 60) * 1000,
        soc_percent=float(soc),
        max_power_w=_number(raw, "max_kw", where, 11) * 1000,
    )


def _stations(raw: Any, speed: float) -> list[StationSpec]:
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("stations: a list of at least one station is needed")
    specs: list[StationSpec] = []
    for n, entry in enumerate(raw):
        where = f"stations[{n}]"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{where}: a mapping is needed")
        connectors = entry.get("connectors", 2)
        if isinstance(connectors, bool) or not isinstance(connectors, int) or connectors < 1:
            raise ScenarioError(f"{where}.connectors: {connectors!r} is not a positive integer")
        behaviour = Behaviour(
            connectors=connectors,
            charge_seconds=None,
            meter_interval_s=_number(entry, "meter_interval_s", where, 60) / speed,
            power_w=_number(entry, "power_kw", where, 22) * 1000,
            speed=speed,
        )
        if "id" in entry:
            ids = [str(entry["id"])]
        elif "prefix" in entry:
            count = entry.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ScenarioError(f"{where}.count: {count!r} is not a positive integer")
            ids = [f"{entry['prefix']}{i:02d}" for i in range(1, count + 1)]
        else:
            raise ScenarioError(f"{where}: give an id, or a prefix and a count")
        specs.extend(StationSpec(i, behaviour) for i in ids)
    seen: set[str] = set()
    for spec in specs:
        if spec.station_id in seen:
            raise ScenarioError(f"stations: {spec.station_id} is named twice")
        seen.add(spec.station_id)
    return specs


def _events(raw: Any, stations: dict[str, StationSpec]) -> list[Event]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ScenarioError("events: a list is needed")
    events: list[Event] = []
    for n, entry in enumerate(raw):
        where = f"events[{n}]"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{where}: a mapping is needed")
        action = entry.get("do")
        if action not in ACTIONS:
            raise ScenarioError(f"{where}.do: {action!r} is not one of {', '.join(ACTIONS)}")
        station = str(entry.get("station", ""))
        if station not in stations:
            raise ScenarioError(f"{where}.station: {station!r} is not in stations")
        if "at" not in entry:
            raise ScenarioError(f"{where}.at: missing")
        connector = entry.get("connector")
        if action != "offline":
            limit = stations[station].behaviour.connectors
            if isinstance(connector, bool) or not isinstance(connector, int):
                raise ScenarioError(f"{where}.connector: an integer is needed for {action}")
            if not 1 <= connector <= limit:
                raise ScenarioError(f"{where}.connector: {station} has connectors 1-{limit}")
        id_tag = entry.get("id_tag")
        if action in ("arrive", "tag") and not (isinstance(id_tag, str) and id_tag):
            raise ScenarioError(f"{where}.id_tag: needed for {action}")
        seconds = None
        if action == "arrive" and "stay" in entry:
            seconds = parse_duration(entry["stay"], f"{where}.stay")
        if action == "offline":
            if "for" not in entry:
                raise ScenarioError(f"{where}.for: how long the network is down")
            seconds = parse_duration(entry["for"], f"{where}.for")
        events.append(
            Event(
                at_s=parse_at(entry["at"], f"{where}.at"),
                station_id=station,
                action=action,
                connector=connector,
                id_tag=id_tag,
                seconds=seconds,
                vehicle=_vehicle(entry, where),
            )
        )
    return sorted(events, key=lambda e: e.at_s)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario (``.json``: JSON; anything else: YAML)."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as error:
        raise ScenarioError(f"{file}: cannot read it ({error.strerror})") from error
    try:
        raw = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ScenarioError(
            f"{file}: not valid {file.suffix.lstrip('.') or 'YAML'}: {first}"
        ) from error
    if not isinstance(raw, dict):
        raise ScenarioError(f"{file}: a mapping with stations and events is needed")
    try:
        speed = _number(raw, "speed", "", 1)
        stations = _stations(raw.get("stations"), speed)
        events = _events(raw.get("events"), {s.station_id: s for s in stations})
        end_s = parse_at(raw["end"], "end") if "end" in raw else None
        heartbeat = parse_duration(raw["heartbeat"], "heartbeat") if "heartbeat" in raw else None
    except ScenarioError as error:
        raise ScenarioError(f"{file}: {error}") from None
    url = raw.get("url")
    return Scenario(
        stations=stations,
        events=events,
        speed=speed,
        url=str(url) if url else None,
        heartbeat_s=heartbeat / speed if heartbeat else None,
        end_s=end_s,
        name=str(raw.get("name", file.stem)),
    )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


async def _apply(event: Event, charger: Charger, speed: float) -> None:
    connector = event.connector or 0
    if event.action == "offline":
        charger.go_offline((event.seconds or 0.0) / speed)
    elif event.action == "plug":
        charger.plug(connector, event.vehicle)
    elif event.action == "unplug":
        charger.unplug(connector)
    elif event.action == "tag":
        await charger.present_tag(connector, event.id_tag or "")
    elif event.action == "arrive":
        charger.plug(connector, event.vehicle)
        verdict = await charger.present_tag(connector, event.id_tag or "")
        if verdict != "Accepted":
            charger.unplug(connector)  # refused: the driver leaves
        elif event.seconds is not None:
            await asyncio.sleep(event.seconds / speed)
            charger.unplug(connector)


async def run_scenario(
    scenario: Scenario,
    url: str,
    out: TextIO = sys.stderr,
    settle_s: float = 30.0,
    connect_s: float = 30.0,
) -> int:
    """Play the scenario: stations connect (the clock starts once all have booted, or
    after ``connect_s``), events happen at their times (``speed`` scenario seconds per
    real second); it ends at ``end``, or once the last event is
    done and every station has sent what it kept (at most ``settle_s`` later)."""
    stop = asyncio.Event()
    chargers = {s.station_id: Charger(s.station_id, s.behaviour) for s in scenario.stations}
    runs = [StationRun(i, charger=c) for i, c in chargers.items()]
    tasks = [asyncio.create_task(run_station(url, r, stop, scenario.heartbeat_s)) for r in runs]
    shown = asyncio.create_task(show_progress(runs, stop, out))
    loop = asyncio.get_running_loop()
    happening: list[asyncio.Task[None]] = []
    try:
        for _ in range(int(connect_s / 0.05)):  # the clock starts once the site is up
            if all(r.connected for r in runs):
                break
            await asyncio.sleep(0.05)
        started = loop.time()
        for event in scenario.events:
            if scenario.end_s is not None and event.at_s > scenario.end_s:
                break  # events are sorted: the rest come after the end
            delay = started + event.at_s / scenario.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            where = f"{event.station_id}/{event.connector}" if event.connector else event.station_id
            what = " ".join(str(v) for v in (event.action, event.id_tag) if v)
            out.write(f"{_clock(event.at_s)} {where} {what}\n")
            happening.append(
                asyncio.create_task(_apply(event, chargers[event.station_id], scenario.speed))
            )
        if scenario.end_s is not None:
            delay = started + scenario.end_s / scenario.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            await asyncio.gather(*happening, return_exceptions=True)
            for _ in range(int(settle_s / 0.1)):
                if not any(
                    c.outbox.durable_count or not r.connected
                    for r, c in zip(runs, chargers.values(), strict=True)
                ):
                    break
                await asyncio.sleep(0.1)
    finally:
        for task in happening:
            task.cancel()
        stop.set()
        await asyncio.gather(*tasks, *happening, shown, return_exceptions=True)
    waiting = sum(c.outbox.durable_count for c in chargers.values())
    if waiting:
        out.write(f"{waiting} transaction messages were still waiting at the end\n")
    never = [r.station_id for r in runs if not r.booted_once]
    for station_id in never[:5]:
        out.write(f"{station_id} never connected\n")
    return 1 if never or waiting else 0
