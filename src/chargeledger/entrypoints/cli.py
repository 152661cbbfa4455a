"""``chargeledger``: serve a node, simulate stations, manage the registry, read the log,
send station commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from chargeledger.config import DEFAULT_STORE, Settings, env
from chargeledger.entrypoints import cli_send


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run one node: OCPP endpoint, HTTP API, page, workers")
    p.add_argument("--store", default=env("store", DEFAULT_STORE))
    p.add_argument("--host", default=env("host", "127.0.0.1"))
    p.add_argument("--ocpp-port", type=int, default=int(env("ocpp_port", "9000")))
    p.add_argument("--api-port", type=int, default=int(env("api_port", "8000")))
    p.add_argument("--node-id", default=env("node_id", "node-1"))
    p.add_argument("--api-token", default=env("api_token", ""))
    p.add_argument(
        "--unknown-stations",
        choices=["reject", "accept"],
        default=env("unknown_stations", "reject"),
    )
    p.add_argument("--tls-cert", default=env("tls_cert", "") or None)
    p.add_argument("--tls-key", default=env("tls_key", "") or None)
    p.add_argument("--heartbeat-interval", type=int, default=int(env("heartbeat_interval", "300")))
    p.add_argument("--response-timeout", type=float, default=float(env("response_timeout", "30")))
    p.add_argument("--command-ttl", type=float, default=float(env("command_ttl", "600")))
    p.add_argument(
        "--read-wait",
        type=float,
        default=float(env("read_wait", "5")),
        help="seconds a read with ?min_position waits for the read models before a 503",
    )
    p.add_argument(
        "--reconcile-grace",
        type=float,
        default=float(env("reconcile_grace", "10")),
        help="seconds a reconnected station has to show what an in-doubt command did",
    )
    p.add_argument(
        "--connection-timeout",
        type=float,
        default=float(env("connection_timeout", "120")),
        help="seconds a station waits for a cable after accepting a remote start, when it "
        "has not reported its ConnectionTimeOut (the hold on the connector ends then)",
    )
    p.add_argument(
        "--remote-start-unknown-tags",
        choices=["send", "refuse"],
        default=env("remote_start_unknown_tags", "send"),
        help="a remote start for an id tag the registry does not hold: send it, or refuse "
        "it (409 IdTagNotAccepted) as a tag the registry refuses is",
    )
    p.add_argument(
        "--lease",
        type=float,
        default=float(env("lease", "10")),
        help="seconds without renewing its lease after which a node loses its stations "
        "(several nodes on PostgreSQL)",
    )
    p.add_argument("--crash-at", default=env("crash_at", "") or None, help=argparse.SUPPRESS)

    _gateway_options(p)


def _gateway_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("OCPP gateway")
    g.add_argument(
        "--ping-interval",
        type=float,
        default=float(env("ping_interval", "30")),
        help="seconds of silence before a WebSocket ping (default 30)",
    )
    g.add_argument(
        "--ping-timeout",
        type=float,
        default=float(env("ping_timeout", "30")),
        help="seconds to wait for any answer to a ping before dropping the station",
    )
    g.add_argument(
        "--max-frame-bytes",
        type=int,
        default=int(env("max_frame_bytes", str(64 * 1024))),
        help="largest message a station may send; a larger one closes with 1009",
    )
    g.add_argument(
        "--handshake-timeout",
        type=float,
        default=float(env("handshake_timeout", "10")),
        help="seconds for a station to complete the TLS and HTTP handshake",
    )
    g.add_argument(
        "--close-timeout",
        type=float,
        default=float(env("close_timeout", "5")),
        help="seconds a closing or superseded connection gets before it is cut",
    )
    g.add_argument(
        "--station-queue",
        type=int,
        default=int(env("station_queue", "64")),
        help="CALLs that may wait per station before a new one is refused",
    )
    g.add_argument(
        "--data-transfer-vendors",
        default=env("data_transfer_vendors", ""),
        help="comma-separated vendor ids whose DataTransfer is Accepted (else UnknownVendorId)",
    )


def _tags_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tags = sub.add_parser("tags", help="manage the id-tag registry Authorize consults")
    tags.add_argument("--store", default=env("store", DEFAULT_STORE))
    tags_sub = tags.add_subparsers(dest="action", required=True)
    add = tags_sub.add_parser("add", help="add or replace a tag")
    add.add_argument("tag")
    add.add_argument(
        "--status",
        choices=["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"],
        default="Accepted",
    )
    add.add_argument("--expiry", default=None, help="ISO-8601, e.g. 2026-12-31T23:59:59Z")
    tags_sub.add_parser("list", help="every tag with its status and expiry")


SIMULATE_URL = "ws://127.0.0.1:9000/ocpp"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chargeledger", description=__doc__)
    parser.add_argument("--log-level", default=env("log_level", "WARNING"))
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)

    sim = sub.add_parser("simulate", help="N simulated stations with realistic behaviour")
    sim.add_argument("--stations", type=int, default=1)
    sim.add_argument(
        "--url",
        default=env("simulate_url", "") or None,
        help=f"the CSMS's OCPP endpoint, before /{{station_id}} (default {SIMULATE_URL})",
    )
    sim.add_argument("--duration", type=float, default=None, help="seconds; default: forever")
    sim.add_argument("--prefix", default="SIM-")
    sim.add_argument("--heartbeat", type=float, default=None, help="override the interval (s)")
    sim.add_argument("--connectors", type=int, default=2, help="connectors per station")
    sim.add_argument(
        "--charge-seconds", type=float, default=60.0, help="mean length of a charging session"
    )
    sim.add_argument(
        "--meter-interval", type=float, default=10.0, help="seconds between MeterValues"
    )
    sim.add_argument(
        "--scenario",
        default=None,
        help="play a scenario file (YAML or JSON, see docs/scenarios.md) instead of "
        "--stations; --url overrides the file's url",
    )

    stations = sub.add_parser("stations", help="manage the station registry")
    stations.add_argument("--store", default=env("store", DEFAULT_STORE))
    st_sub = stations.add_subparsers(dest="action", required=True)
    add = st_sub.add_parser("add", help="register a new station (refused if it is there)")
    add.add_argument("id")
    add.add_argument("--password", default=None)
    password = st_sub.add_parser("set-password", help="change or remove a station's password")
    password.add_argument("id")
    choice = password.add_mutually_exclusive_group(required=True)
    choice.add_argument("--password", default=None)
    choice.add_argument("--no-password", action="store_true", help="remove the password")
    remove = st_sub.add_parser("remove", help="take a station out of the registry")
    remove.add_argument("id")
    st_sub.add_parser("list")

    _tags_parser(sub)
    cli_send.add_parser(sub)

    bench = sub.add_parser("bench", help="a benchmark from bench/, beside its baseline")
    bench.add_argument("name", choices=[*BENCHMARKS, "all"])
    bench.add_argument("--quick", action="store_true", help="finish within 60 s")
    bench.add_argument("--json", action="store_true", help="one JSON object per benchmark")
    bench.add_argument(
        "--postgres",
        default=env("bench_postgres", "postgresql://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL DSN for the workloads that run on it",
    )

    cluster = sub.add_parser(
        "cluster", help="a local cluster: N nodes on one PostgreSQL database behind HAProxy"
    )
    cluster.add_argument("--nodes", type=int, default=3)
    cluster.add_argument("--store", default=env("store", ""), help="postgresql://user@host/db")
    cluster.add_argument("--ocpp-port", type=int, default=9000, help="the front's; nodes after")
    cluster.add_argument("--api-port", type=int, default=8000, help="the front's; nodes after")
    cluster.add_argument("--api-token", default=env("api_token", ""))
    cluster.add_argument(
        "serve_options", nargs=argparse.REMAINDER, help="after --: options for every node"
    )

    events = sub.add_parser("events", help="read the event log")
    events.add_argument("--store", default=env("store", DEFAULT_STORE))
    events.add_argument("--stream", default=None, help="a station id")
    events.add_argument("--follow", action="store_true")

    projections = sub.add_parser("projections", help="the read models built from the log")
    projections_sub = projections.add_subparsers(dest="action", required=True)
    rebuild = projections_sub.add_parser(
        "rebuild", help="replay every read model from the log (stop the nodes first)"
    )
    rebuild.add_argument("--store", default=env("store", DEFAULT_STORE))
    return parser


def _node_lock(store: str, role: str) -> IO[str] | None:
    """One node per SQLite file: the file's node lock, or a clear refusal (``SystemExit``)."""
    if not store.startswith("sqlite:///"):
        return None
    from chargeledger.adapters.sqlite_database import sqlite_path
    from chargeledger.adapters.sqlite_lock import FileInUseError, hold_node_lock

    try:
        return hold_node_lock(sqlite_path(store), role)
    except FileInUseError as busy:
        print(
            f"{role}: {busy.path} is served by another node ({busy.holder}). One node per "
            "SQLite file: stop that node first, or run several nodes on PostgreSQL.",
            file=sys.stderr,
        )
        raise SystemExit(2) from None


async def _rebuild_projections(args: argparse.Namespace) -> int:
    import time

    from chargeledger.application.operation_projections import OperationsProjection
    from chargeledger.application.projections import (
        CommandAndStationProjection,
        ProjectionRunner,
        forget,
    )
    from chargeledger.bootstrap import open_stores

    store, documents = await open_stores(args.store)
    try:
        projection = CommandAndStationProjection(documents, OperationsProjection(documents))
        started = time.monotonic()
        deleted = await forget(documents, projection)
        head = await store.head_position()
        runner = ProjectionRunner(store, documents, projection)
        task = asyncio.create_task(runner.run())
        try:
            while not await runner.wait_until(head, 5.0):
                print(f"rebuilding: at position {runner.position} of {head}", file=sys.stderr)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        print(
            f"read models rebuilt from {head} positions in {time.monotonic() - started:.1f} s "
            f"({deleted} documents replaced)"
        )
    finally:
        await store.close()
    return 0


BENCHMARKS = ["store", "bus", "gateway", "commands", "e2e", "cluster", "fuzz"]


def _bench(args: argparse.Namespace) -> int:
    """Benchmarks live in the repository's ``bench/`` folder, beside ``src/``."""
    import importlib

    here = Path(__file__).resolve()
    roots = [Path.cwd(), *here.parents]
    root = next((r for r in roots if (r / "bench" / "common.py").is_file()), None)
    if root is None:
        print("bench/ not found: run from a chargeledger checkout", file=sys.stderr)
        return 2
    sys.path.insert(0, str(root))
    names = BENCHMARKS if args.name == "all" else [args.name]
    common = importlib.import_module("bench.common")
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as missing:
            if missing.name != f"bench.{name}":
                raise
            print(f"bench {name}: not written yet (no bench/{name}.py)", file=sys.stderr)
            if args.name != "all":
                return 2
            continue
        rows = module.run(quick=args.quick, postgres=args.postgres)
        common.print_table(name, rows, args.json)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "simulate" and args.scenario:
            return _simulate_scenario(args)
        if args.command == "cluster":
            from chargeledger.entrypoints.cluster import run_cluster

            extra = [o for o in args.serve_options if o != "--"]
            token = args.api_token or secrets.token_urlsafe(24)
            return run_cluster(args.nodes, args.store, args.ocpp_port, args.api_port, token, extra)
        if args.command == "simulate":
            from chargeledger.simulator.fleet import run_fleet
            from chargeledger.simulator.station import Behaviour

            behaviour = Behaviour(
                connectors=args.connectors,
                charge_seconds=(args.charge_seconds * 0.5, args.charge_seconds * 1.5),
                meter_interval_s=args.meter_interval,
            )

            return asyncio.run(
                run_fleet(
                    args.url or SIMULATE_URL,
                    args.stations,
                    args.duration,
                    args.prefix,
                    args.heartbeat,
                    behaviour,
                )
            )
        if args.command == "stations":
            return asyncio.run(_stations(args))
        if args.command == "tags":
            return asyncio.run(_tags(args))
        if args.command == "events":
            return asyncio.run(_events(args))
        if args.command == "projections":
            lock = _node_lock(args.store, "projections rebuild")
            try:
                return asyncio.run(_rebuild_projections(args))
            finally:
                if lock is not None:
                    lock.close()
        if args.command == "bench":
            return _bench(args)
        if args.command == "send":
            return cli_send.send(args)
    except KeyboardInterrupt:
        return 130
    return 2


def _simulate_scenario(args: argparse.Namespace) -> int:
    from chargeledger.simulator.scenario import ScenarioError, load_scenario, run_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        print(f"simulate: {error}", file=sys.stderr)
        return 2
    return asyncio.run(run_scenario(scenario, args.url or scenario.url or SIMULATE_URL))


def _serve(args: argparse.Namespace) -> int:
    from chargeledger.entrypoints.server import serve

    token = args.api_token or secrets.token_urlsafe(24)
    settings = Settings(
        store=args.store,
        host=args.host,
        ocpp_port=args.ocpp_port,
        api_port=args.api_port,
        node_id=args.node_id,
        api_token=token,
        api_token_generated=not args.api_token,
        unknown_stations=args.unknown_stations,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        heartbeat_interval_s=args.heartbeat_interval,
        response_timeout_s=args.response_timeout,
        command_ttl_s=args.command_ttl,
        reconcile_grace_s=args.reconcile_grace,
        connection_timeout_s=args.connection_timeout,
        remote_start_unknown_tags=args.remote_start_unknown_tags,
        read_wait_s=args.read_wait,
        crash_at=args.crash_at,
        lease_s=args.lease,
        ping_interval_s=args.ping_interval,
        ping_timeout_s=args.ping_timeout,
        max_frame_bytes=args.max_frame_bytes,
        handshake_timeout_s=args.handshake_timeout,
        close_timeout_s=args.close_timeout,
        station_queue=args.station_queue,
        data_transfer_vendors=tuple(v for v in args.data_transfer_vendors.split(",") if v),
    )
    lock = _node_lock(settings.store, "serve")
    try:
        asyncio.run(serve(settings))
    finally:
        if lock is not None:
            lock.close()
    return 0


async def _stations(args: argparse.Namespace) -> int:
    from chargeledger.application.registry import RegistryError, StationRegistry
    from chargeledger.bootstrap import open_stores

    store, documents = await open_stores(args.store)
    try:
        registry = StationRegistry(documents)
        try:
            if args.action == "add":
                await registry.add(args.id, args.password, datetime.now(UTC).isoformat())
                auth = "with a password (HTTP Basic)" if args.password else "without a password"
                print(f"station {args.id} added {auth}")
            elif args.action == "set-password":
                await registry.set_password(args.id, None if args.no_password else args.password)
                print(f"station {args.id}: password {'removed' if args.no_password else 'set'}")
            elif args.action == "remove":
                await registry.remove(args.id)
                print(f"station {args.id} removed")
        except RegistryError as refused:
            print(f"stations {args.action}: {refused.code}: {refused}", file=sys.stderr)
            return 2
        if args.action == "list":
            for station in await registry.list():
                auth = "password" if station.password_hash else "no password"
                print(f"{station.station_id}\t{auth}\tadded {station.added_at}")
    finally:
        await store.close()
    return 0


async def _tags(args: argparse.Namespace) -> int:
    from chargeledger.adapters.clock import SystemClock
    from chargeledger.application.id_tags import IdTagRegistry, InvalidIdTagError
    from chargeledger.bootstrap import open_stores

    store, documents = await open_stores(args.store)
    try:
        registry = IdTagRegistry(documents, SystemClock())
        if args.action == "add":
            try:
                doc = await registry.put(args.tag, args.status, args.expiry)
            except InvalidIdTagError as invalid:
                print(f"tags add: {invalid}", file=sys.stderr)
                return 2
            until = f" until {doc['expiry']}" if doc["expiry"] else ""
            print(f"id tag {doc['id_tag']} {doc['status']}{until}")
        else:
            for doc in await registry.list():
                print(f"{doc['id_tag']}\t{doc['status']}\t{doc['expiry'] or 'no expiry'}")
    finally:
        await store.close()
    return 0


async def _events(args: argparse.Namespace) -> int:
    from chargeledger.bootstrap import open_stores

    store, _ = await open_stores(args.store)
    stream = f"station-{args.stream}" if args.stream else None
    position = 0
    try:
        while True:
            batch = await store.read_all(position, 1000)
            for recorded in batch:
                position = recorded.position
                if stream is not None and recorded.stream_id != stream:
                    continue
                event = recorded.event
                fields = json.dumps(event.__dict__, separators=(",", ":"))
                print(
                    f"{recorded.position}\t{recorded.stream_id}@{recorded.version}\t"
                    f"{type(event).__name__}\t{fields}",
                    flush=True,
                )
            if not batch:
                if not args.follow:
                    break
                await store.wait_for_events(position, 1.0)
    finally:
        await store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
