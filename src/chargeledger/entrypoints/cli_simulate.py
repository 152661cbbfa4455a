"""``chargeledger simulate``: simulated stations against a CSMS, a fleet or a scenario
file. Apart from the store commands because it needs no store, only an OCPP URL."""

from __future__ import annotations

import argparse
import asyncio
import sys

from chargeledger.entrypoints.cli_options import Parser, checked_url, option, subcommand

SIMULATE_URL = "ws://127.0.0.1:9000/ocpp"


def add_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    sim = subcommand(sub, "simulate", "N simulated stations with realistic behaviour")
    option(sim, "--stations", 1, "how many stations", type=int)
    option(
        sim,
        "--url",
        None,
        "the CSMS's OCPP endpoint, before /STATION_ID",
        shown_default=SIMULATE_URL,
        dest="url",
    )
    option(sim, "--duration", None, "seconds to run", type=float, shown_default="forever")
    option(sim, "--prefix", "SIM-", "station ids start with this")
    option(
        sim,
        "--heartbeat",
        None,
        "heartbeat interval in seconds",
        type=float,
        shown_default="the one the CSMS gives",
    )
    option(sim, "--connectors", 2, "connectors per station", type=int)
    option(sim, "--charge-seconds", 60.0, "mean length of a charging session", type=float)
    option(sim, "--meter-interval", 10.0, "seconds between MeterValues", type=float)
    option(
        sim,
        "--protocol",
        "ocpp1.6",
        "the OCPP version the stations speak (2.0.1: a simpler station, no outbox yet)",
        choices=["ocpp1.6", "ocpp2.0.1"],
    )
    option(
        sim,
        "--scenario",
        None,
        "play a scenario file (YAML or JSON, see docs/scenarios.md) instead of "
        "--stations; --url overrides the file's url",
    )


def simulate(args: argparse.Namespace) -> int:
    if args.scenario:
        return _simulate_scenario(args)
    from chargeledger.simulator.fleet import run_fleet
    from chargeledger.simulator.station import Behaviour

    behaviour = Behaviour(
        connectors=args.connectors,
        charge_seconds=(args.charge_seconds * 0.5, args.charge_seconds * 1.5),
        meter_interval_s=args.meter_interval,
    )
    url = checked_url("--url", args.url or SIMULATE_URL, ("ws", "wss"), SIMULATE_URL)
    return asyncio.run(
        run_fleet(
            url,
            args.stations,
            args.duration,
            args.prefix,
            args.heartbeat,
            behaviour,
            args.protocol,
        )
    )


def _simulate_scenario(args: argparse.Namespace) -> int:
    from chargeledger.simulator.scenario import ScenarioError, load_scenario, run_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        print(f"simulate: {error}", file=sys.stderr)
        return 2
    url = args.url or scenario.url or SIMULATE_URL
    flag = "--url" if args.url or not scenario.url else f"{args.scenario}: url"
    checked_url(flag, url, ("ws", "wss"), SIMULATE_URL)
    return asyncio.run(run_scenario(scenario, url))
