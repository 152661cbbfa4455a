"""The ``chargeledger`` command: serve a node, simulate stations, manage the registry,
read the log, send station commands. A user's mistake ends in one line on stderr
(``UserError``), never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from chargeledger.adapters import logs
from chargeledger.config import Settings, env
from chargeledger.entrypoints import cli_send
from chargeledger.entrypoints.cli_options import (
    Parser,
    UserError,
    option,
    shared_options,
    subcommand,
)
from chargeledger.entrypoints.progress import Progress

SERVE_OPTIONS: list[tuple[str, str, Any, str, dict[str, Any]]] = [
    # (flag, Settings field, default, help, more for ``option``)
    ("--host", "host", "127.0.0.1", "address to listen on for OCPP and HTTP", {}),
    ("--ocpp-port", "ocpp_port", 9000, "port of the OCPP endpoint", {"type": int}),
    ("--api-port", "api_port", 8000, "port of the HTTP API and page", {"type": int}),
    ("--node-id", "node_id", "node-1", "this node's name in logs, metrics and the cluster", {}),
    (
        "--api-token",
        "api_token",
        "",
        "bearer token of the HTTP API",
        {"shown_default": "a new random one, printed at start"},
    ),
    (
        "--unknown-stations",
        "unknown_stations",
        "reject",
        "a station missing from the registry: reject its connection, or accept it",
        {"choices": ["reject", "accept"]},
    ),
    ("--tls-cert", "tls_cert", None, "PEM certificate: serve wss:// (security profile 2)", {}),
    ("--tls-key", "tls_key", None, "PEM private key of --tls-cert", {}),
    (
        "--heartbeat-interval",
        "heartbeat_interval_s",
        300,
        "seconds between heartbeats, told to stations at boot",
        {"type": int},
    ),
    (
        "--response-timeout",
        "response_timeout_s",
        30.0,
        "seconds a station has to answer one of our CALLs",
        {"type": float},
    ),
    (
        "--command-ttl",
        "command_ttl_s",
        600.0,
        "seconds an operator command may wait for its station before it expires",
        {"type": float},
    ),
    (
        "--read-wait",
        "read_wait_s",
        5.0,
        "seconds a read with ?min_position waits for the read models before a 503",
        {"type": float},
    ),
    (
        "--reconcile-grace",
        "reconcile_grace_s",
        10.0,
        "seconds a reconnected station has to show what an in-doubt command did",
        {"type": float},
    ),
    (
        "--connection-timeout",
        "connection_timeout_s",
        120.0,
        "seconds a station waits for a cable after accepting a remote start, when it "
        "has not reported its ConnectionTimeOut (the hold on the connector ends then)",
        {"type": float},
    ),
    (
        "--remote-start-unknown-tags",
        "remote_start_unknown_tags",
        "send",
        "a remote start for an id tag the registry does not hold: send it, or refuse "
        "it (409 IdTagNotAccepted) as a tag the registry refuses is",
        {"choices": ["send", "refuse"]},
    ),
    (
        "--lease",
        "lease_s",
        10.0,
        "seconds without renewing its lease after which a node loses its stations "
        "(several nodes on PostgreSQL)",
        {"type": float},
    ),
    ("--crash-at", "crash_at", None, "fault injection for tests", {"hide": True}),
]
GATEWAY_OPTIONS: list[tuple[str, str, Any, str, dict[str, Any]]] = [
    (
        "--ping-interval",
        "ping_interval_s",
        30.0,
        "seconds of silence before a WebSocket ping",
        {"type": float},
    ),
    (
        "--ping-timeout",
        "ping_timeout_s",
        30.0,
        "seconds to wait for any answer to a ping before dropping the station",
        {"type": float},
    ),
    (
        "--max-frame-bytes",
        "max_frame_bytes",
        64 * 1024,
        "largest message a station may send; a larger one closes with 1009",
        {"type": int},
    ),
    (
        "--handshake-timeout",
        "handshake_timeout_s",
        10.0,
        "seconds for a station to complete the TLS and HTTP handshake",
        {"type": float},
    ),
    (
        "--close-timeout",
        "close_timeout_s",
        5.0,
        "seconds a closing or superseded connection gets before it is cut",
        {"type": float},
    ),
    (
        "--station-queue",
        "station_queue",
        64,
        "CALLs that may wait per station before a new one is refused",
        {"type": int},
    ),
    (
        "--max-ocpp-connections",
        "max_ocpp_connections",
        20000,
        "open OCPP connections at most (0: no cap; kept 1024 below the file limit); "
        "more are answered 503",
        {"type": int},
    ),
    (
        "--max-ocpp-connections-per-address",
        "max_ocpp_connections_per_address",
        1000,
        "open OCPP connections from one client address or IPv6 /64 (0: no cap; "
        "behind a proxy that hides station addresses, use 0)",
        {"type": int},
    ),
    (
        "--new-stations-per-minute",
        "new_stations_per_minute",
        60.0,
        "with --unknown-stations accept: station ids never seen before that one "
        "client address may connect per minute (more are answered 429)",
        {"type": float},
    ),
    (
        "--data-transfer-vendors",
        "data_transfer_vendors",
        "",
        "comma-separated vendor ids whose DataTransfer is Accepted (else UnknownVendorId)",
        {},
    ),
]


HTTP_OPTIONS: list[tuple[str, str, Any, str, dict[str, Any]]] = [
    (
        "--max-body-bytes",
        "max_body_bytes",
        64 * 1024,
        "largest request body; a larger one is refused with 413 before it is read",
        {"type": int},
    ),
    (
        "--http-header-timeout",
        "http_header_timeout_s",
        10.0,
        "seconds a client has to send a request's line and headers (then 408)",
        {"type": float},
    ),
    (
        "--http-keep-alive",
        "http_keep_alive_s",
        30,
        "seconds an idle connection is kept between requests",
        {"type": int},
    ),
    (
        "--max-http-connections",
        "max_http_connections",
        0,
        "connections the API holds at once (503 beyond); 0: a quarter of ulimit -n, "
        "at most 1024, leaving the rest for stations",
        {"type": int},
    ),
    (
        "--max-http-connections-per-client",
        "max_http_connections_per_client",
        0,
        "connections one client address holds at once; 0: a quarter of the API's cap",
        {"type": int},
    ),
    (
        "--ready-max-lag",
        "ready_max_lag",
        10_000,
        "events the read models may trail the log by while /readyz answers 200",
        {"type": int},
    ),
]


def _serve_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    p = subcommand(sub, "serve", "run one node: OCPP endpoint, HTTP API, page, workers")
    for group, options in (
        (p, SERVE_OPTIONS),
        (p.add_argument_group("OCPP gateway"), GATEWAY_OPTIONS),
        (p.add_argument_group("HTTP API"), HTTP_OPTIONS),
    ):
        for flag, _, default, text, more in options:
            more = dict(more)
            if more.pop("hide", False):
                p.add_argument(flag, default=env(flag[2:], "") or default, help=argparse.SUPPRESS)
                continue
            option(group, flag, default, text, **more)


def _settings(args: argparse.Namespace) -> Settings:
    """The node's settings from the options declared in SERVE_OPTIONS and GATEWAY_OPTIONS."""
    values = {
        field: getattr(args, flag[2:].replace("-", "_"))
        for flag, field, *_ in (*SERVE_OPTIONS, *GATEWAY_OPTIONS, *HTTP_OPTIONS)
    }
    values["data_transfer_vendors"] = tuple(
        v for v in values["data_transfer_vendors"].split(",") if v
    )
    values["api_token"] = args.api_token or secrets.token_urlsafe(24)
    return Settings(store=args.store, api_token_generated=not args.api_token, **values)


def _tags_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    tags = subcommand(sub, "tags", "manage the id-tag registry Authorize consults")
    tags_sub = tags.add_subparsers(dest="action", required=True)
    add = subcommand(tags_sub, "add", "add or replace a tag")
    add.add_argument("tag")
    option(
        add,
        "--status",
        "Accepted",
        "the tag's status",
        choices=["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"],
    )
    option(add, "--expiry", None, "ISO-8601 time the tag expires, with its zone")
    subcommand(tags_sub, "list", "every tag with its status and expiry")


SIMULATE_URL = "ws://127.0.0.1:9000/ocpp"
DESCRIPTION = """chargeledger: serve a node, simulate stations, manage the registry, read the
log, send station commands.

Every option also reads CHARGELEDGER_<OPTION> from the environment; --store,
--log-level and --log-format go before or after the subcommand."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="chargeledger", description=DESCRIPTION)
    shared_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _serve_parser(sub)

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
        "--scenario",
        None,
        "play a scenario file (YAML or JSON, see docs/scenarios.md) instead of "
        "--stations; --url overrides the file's url",
    )

    stations = subcommand(
        sub,
        "stations",
        "manage the station registry (the stations allowed to connect)",
    )
    st_sub = stations.add_subparsers(dest="action", required=True)
    add = subcommand(st_sub, "add", "register a new station (refused if it is there)")
    add.add_argument("id")
    option(add, "--password", None, "its HTTP Basic password (security profile 1)")
    password = subcommand(st_sub, "set-password", "change or remove a station's password")
    password.add_argument("id")
    option(password, "--password", None, "the new password")
    option(password, "--no-password", False, "remove the password", type=bool)
    remove = subcommand(st_sub, "remove", "take a station out of the registry")
    remove.add_argument("id")
    subcommand(
        st_sub,
        "list",
        "the stations in the registry; the connected ones: GET /api/stations on a node",
    )

    _tags_parser(sub)
    cli_send.add_parser(sub)

    bench = subcommand(sub, "bench", "a benchmark from bench/, beside its baseline")
    bench.add_argument("name", choices=[*BENCHMARKS, "all"])
    option(bench, "--quick", False, "finish within 60 s", type=bool)
    option(bench, "--json", False, "one JSON object per benchmark", type=bool)
    option(
        bench,
        "--postgres",
        "postgresql://postgres@127.0.0.1:5432/test",
        "PostgreSQL DSN for the workloads that run on it",
    )

    cluster = subcommand(
        sub, "cluster", "a local cluster: N nodes on one PostgreSQL database behind HAProxy"
    )
    option(cluster, "--nodes", 3, "how many nodes", type=int)
    option(cluster, "--ocpp-port", 9000, "the front's OCPP port; nodes take the next", type=int)
    option(cluster, "--api-port", 8000, "the front's HTTP port; nodes take the next", type=int)
    option(cluster, "--api-token", "", "bearer token every node shares", shown_default="a new one")
    cluster.add_argument(
        "serve_options", nargs=argparse.REMAINDER, help="after --: options for every node"
    )

    events = subcommand(sub, "events", "read the event log")
    option(
        events,
        "--stream",
        None,
        "only this station's events (a station id)",
        shown_default="every stream",
    )
    option(events, "--follow", False, "keep printing new events as they come", type=bool)

    projections = subcommand(sub, "projections", "the read models built from the log")
    projections_sub = projections.add_subparsers(dest="action", required=True)
    subcommand(
        projections_sub, "rebuild", "replay every read model from the log (stop the nodes first)"
    )
    return parser


def _node_lock(store: str, role: str) -> IO[str] | None:
    """One node per SQLite file: the file's node lock, or a clear refusal (``SystemExit``)."""
    if not store.startswith("sqlite:///"):
        return None
    from chargeledger.adapters.sqlite_database import sqlite_path
    from chargeledger.adapters.sqlite_lock import FileInUseError, hold_node_lock

    try:
        return hold_node_lock(sqlite_path(store), role)
    except FileNotFoundError:
        raise UserError(f"cannot open the store {store}: its folder does not exist") from None
    except FileInUseError as busy:
        print(
            f"{role}: {busy.path} is served by another node ({busy.holder}). One node per "
            "SQLite file: stop that node first, or run several nodes on PostgreSQL.",
            file=sys.stderr,
        )
        raise SystemExit(2) from None


async def _rebuild_projections(args: argparse.Namespace) -> int:
    import time

    from chargeledger.application.holdings_projection import OperationsProjection
    from chargeledger.application.projections import (
        CommandAndStationProjection,
        ProjectionRunner,
        forget,
    )

    store, documents = await open_user_stores(args.store)
    try:
        projection = CommandAndStationProjection(documents, OperationsProjection(documents))
        started = time.monotonic()
        deleted = await forget(documents, projection)
        head = await store.head_position()
        runner = ProjectionRunner(store, documents, projection)
        task = asyncio.create_task(runner.run())
        progress = Progress("rebuilding", head, quiet_for_s=0.0)
        try:
            while not await runner.wait_until(head, 0.2):
                progress.at(runner.position)
            progress.done()
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
    try:
        args = build_parser().parse_args(argv)
        logs.configure(args.log_level, args.log_format)
        return _run(args)
    except UserError as mistake:
        print(f"chargeledger: {mistake}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``events | head``): that is not an error of ours. Point
        # stdout at /dev/null so the interpreter's final flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _run(args: argparse.Namespace) -> int:
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
        return asyncio.run(_with_store(args, _stations))
    if args.command == "tags":
        return asyncio.run(_with_store(args, _tags))
    if args.command == "events":
        return asyncio.run(_with_store(args, _events))
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
    return 2


async def open_user_stores(url: str) -> tuple[Any, Any]:
    """The stores behind ``--store``, or the reason they cannot be opened as a UserError."""
    import sqlite3

    from chargeledger.adapters.postgres_database import StoreUnavailableError
    from chargeledger.bootstrap import open_stores

    try:
        return await open_stores(url)
    except ValueError as bad_url:
        raise UserError(f"--store: {bad_url}") from None
    except StoreUnavailableError as unavailable:
        raise UserError(str(unavailable)) from None
    except (sqlite3.Error, OSError) as unusable:
        raise UserError(f"cannot open the store {url}: {unusable}") from None


async def _with_store(args: argparse.Namespace, command: Any) -> int:
    store, documents = await open_user_stores(args.store)
    try:
        result: int = await command(args, store, documents)
        return result
    finally:
        await store.close()


def _simulate_scenario(args: argparse.Namespace) -> int:
    from chargeledger.simulator.scenario import ScenarioError, load_scenario, run_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        print(f"simulate: {error}", file=sys.stderr)
        return 2
    return asyncio.run(run_scenario(scenario, args.url or scenario.url or SIMULATE_URL))


def _serve(args: argparse.Namespace) -> int:
    import ssl

    from chargeledger.adapters.postgres_database import StoreUnavailableError
    from chargeledger.bootstrap import tls_context
    from chargeledger.entrypoints.server import serve

    settings = _settings(args)
    try:
        tls_context(settings)  # read now: a wrong path is a mistake, not a crash later
    except (OSError, ssl.SSLError) as unusable:
        raise UserError(f"--tls-cert/--tls-key: cannot use them: {unusable}") from None
    _ports_free(settings)
    lock = _node_lock(settings.store, "serve")
    try:
        asyncio.run(serve(settings))
    except ValueError as bad_url:
        raise UserError(f"--store: {bad_url}") from None
    except StoreUnavailableError as unavailable:
        raise UserError(str(unavailable)) from None
    finally:
        if lock is not None:
            lock.close()
    return 0


def _ports_free(settings: Settings) -> None:
    """Stop at once, naming the port, when another process listens on one we need
    (else the gateway's supervisor would retry and log a traceback per attempt)."""
    import errno
    import socket

    for name, port in (("--ocpp-port", settings.ocpp_port), ("--api-port", settings.api_port)):
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((settings.host, port))
            except OSError as taken:
                why = "in use by another process" if taken.errno == errno.EADDRINUSE else taken
                raise UserError(
                    f"cannot listen on {settings.host}:{port} ({name}): {why}; "
                    f"stop that process or choose another {name}"
                ) from None


async def _stations(args: argparse.Namespace, store: Any, documents: Any) -> int:
    from chargeledger.application.registry import RegistryError, StationRegistry

    registry = StationRegistry(documents)
    try:
        if args.action == "add":
            await registry.add(args.id, args.password, datetime.now(UTC).isoformat())
            auth = "with a password (HTTP Basic)" if args.password else "without a password"
            print(f"station {args.id} added {auth}")
        elif args.action == "set-password":
            if not args.no_password and args.password is None:
                raise UserError("stations set-password: give --password PASSWORD or --no-password")
            if args.no_password and args.password is not None:
                raise UserError("stations set-password: --password and --no-password exclude")
            await registry.set_password(args.id, None if args.no_password else args.password)
            print(f"station {args.id}: password {'removed' if args.no_password else 'set'}")
        elif args.action == "remove":
            await registry.remove(args.id)
            print(f"station {args.id} removed")
    except RegistryError as refused:
        raise UserError(f"stations {args.action}: {refused.code}: {refused}") from None
    if args.action == "list":
        registered = await registry.list()
        # On stderr, so that stdout stays one station per line for scripts.
        print(
            f"{len(registered)} station(s) in the registry of {args.store} (allowed to "
            "connect); the connected ones: GET /api/stations on a node",
            file=sys.stderr,
        )
        for station in registered:
            auth = "password" if station.password_hash else "no password"
            print(f"{station.station_id}\t{auth}\tadded {station.added_at}")
    return 0


async def _tags(args: argparse.Namespace, store: Any, documents: Any) -> int:
    from chargeledger.adapters.clock import SystemClock
    from chargeledger.application.id_tags import IdTagRegistry, InvalidIdTagError

    registry = IdTagRegistry(documents, SystemClock())
    if args.action == "add":
        try:
            doc = await registry.put(args.tag, args.status, args.expiry)
        except InvalidIdTagError as invalid:
            raise UserError(f"tags add: {invalid}") from None
        until = f" until {doc['expiry']}" if doc["expiry"] else ""
        print(f"id tag {doc['id_tag']} {doc['status']}{until}")
    else:
        for doc in await registry.list():
            print(f"{doc['id_tag']}\t{doc['status']}\t{doc['expiry'] or 'no expiry'}")
    return 0


async def _events(args: argparse.Namespace, store: Any, documents: Any) -> int:
    stream = f"station-{args.stream}" if args.stream else None
    position, printed, caught_up = 0, 0, False
    # Events on a terminal show themselves; a redirected output gets a progress report.
    head = 0 if sys.stdout.isatty() else await store.head_position()
    progress = Progress("events", head)
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
                flush=args.follow,
            )
            printed += 1
        progress.at(position)
        if batch:
            continue
        if not caught_up:
            caught_up = True
            progress.done()
            if stream is not None and printed == 0:
                missing = (
                    f"no such stream: {stream} has no events (is {args.stream!r} a station "
                    f"id? `chargeledger stations list --store {args.store}` lists them)"
                )
                if not args.follow:
                    raise UserError(missing)
                print(f"chargeledger: {missing}; waiting for its first", file=sys.stderr)
        if not args.follow:
            break
        await store.wait_for_events(position, 1.0)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
