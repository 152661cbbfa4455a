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
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from chargeledger.adapters import logs
from chargeledger.config import GATEWAY, HTTP, Settings, settings_options
from chargeledger.entrypoints import cli_send
from chargeledger.entrypoints.cli_options import (
    Parser,
    UserError,
    option,
    setting_option,
    shared_options,
    subcommand,
)
from chargeledger.entrypoints.progress import Progress

if TYPE_CHECKING:
    from chargeledger.bootstrap import OfflineNode


def _serve_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """``serve``'s options: one per setting that declares one (config.py), in its section."""
    p = subcommand(sub, "serve", "run one node: OCPP endpoint, HTTP API, page, workers")
    sections: dict[str | None, argparse.ArgumentParser | argparse._ArgumentGroup] = {
        None: p,
        GATEWAY: p.add_argument_group(GATEWAY),
        HTTP: p.add_argument_group(HTTP),
    }
    for declared in settings_options():
        setting_option(sections[declared.option.section], declared)


def _settings(args: argparse.Namespace) -> Settings:
    """The node's settings from ``serve``'s options (each already read its environment
    variable when not given)."""
    values: dict[str, Any] = {}
    for declared in settings_options():
        value = getattr(args, declared.option.flag[2:].replace("-", "_"))
        if declared.choices is not None and value is not None:
            value = declared.parse(value)  # the text given, as its type
        values[declared.name] = value
    chosen_token = values.pop("api_token")
    if chosen_token:
        values["api_token"] = chosen_token
    return Settings(store=args.store, api_token_generated=not chosen_token, **values)


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

    bench = subcommand(
        sub,
        "bench",
        "a benchmark from bench/, beside its baseline",
        description=BENCH_DESCRIPTION,
    )
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
    front = Settings()  # the front listens where one node would
    option(
        cluster,
        "--ocpp-port",
        front.ocpp_port,
        "the front's OCPP port; nodes take the next",
        type=int,
    )
    option(
        cluster,
        "--api-port",
        front.api_port,
        "the front's HTTP port; nodes take the next",
        type=int,
    )
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

    from chargeledger.application.projection_runner import forget

    node = await open_user_stores(args.store)
    try:
        projection, runner = node.read_models()
        started = time.monotonic()
        deleted = await forget(node.documents, projection)
        head = await node.store.head_position()
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
        await node.close()
    return 0


BENCHMARKS = ["store", "bus", "gateway", "commands", "e2e", "cluster", "fuzz"]


BENCH_DESCRIPTION = """a benchmark from bench/, beside its baseline.

The benchmarks are not part of the installed package: they live in the bench/ folder of
a chargeledger checkout and need its bench extra (make install, or pip install -e
'.[bench]'). Run this command inside the checkout."""


def checkout_with_benchmarks(start: Path) -> Path | None:
    """The chargeledger checkout ``start`` is in (it or a parent holds bench/common.py
    beside pyproject.toml), or ``None``."""
    for folder in (start, *start.parents):
        if (folder / "bench" / "common.py").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return None


def _bench(args: argparse.Namespace) -> int:
    """Run benchmarks of the checkout the command runs in (see BENCH_DESCRIPTION)."""
    import importlib

    root = checkout_with_benchmarks(Path.cwd())
    if root is None:
        raise UserError(
            "bench: the benchmarks are not installed with the package; run this inside a "
            "chargeledger checkout (its bench/ folder), after make install"
        )
    sys.path.insert(0, str(root))  # the checkout's bench/ package, not an installed one
    names = BENCHMARKS if args.name == "all" else [args.name]
    common = importlib.import_module("bench.common")
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as missing:
            if missing.name != f"bench.{name}":
                raise _missing_extra(name, missing) from None
            print(f"bench {name}: not written yet (no bench/{name}.py)", file=sys.stderr)
            if args.name != "all":
                return 2
            continue
        try:
            rows = module.run(quick=args.quick, postgres=args.postgres)
        except ModuleNotFoundError as missing:
            raise _missing_extra(name, missing) from None
        common.print_table(name, rows, args.json)
    return 0


def _missing_extra(name: str, missing: ModuleNotFoundError) -> Exception:
    """A library only the benchmarks use is missing (the bench extra), or a real bug."""
    if (missing.name or "").partition(".")[0] in ("bench", "chargeledger"):
        return missing
    return UserError(
        f"bench {name}: it needs {missing.name}, of the bench extra: "
        "pip install -e '.[bench]' (make install does)"
    )


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


async def open_user_stores(url: str) -> OfflineNode:
    """The stores behind ``--store``, or the reason they cannot be opened as a UserError."""
    import sqlite3

    from chargeledger.adapters.postgres_database import StoreUnavailableError
    from chargeledger.bootstrap import open_offline_node

    try:
        return await open_offline_node(url)
    except ValueError as bad_url:
        raise UserError(f"--store: {bad_url}") from None
    except StoreUnavailableError as unavailable:
        raise UserError(str(unavailable)) from None
    except (sqlite3.Error, OSError) as unusable:
        raise UserError(f"cannot open the store {url}: {unusable}") from None


async def _with_store(
    args: argparse.Namespace, command: Callable[[argparse.Namespace, OfflineNode], Awaitable[int]]
) -> int:
    node = await open_user_stores(args.store)
    try:
        return await command(args, node)
    finally:
        await node.close()


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


async def _stations(args: argparse.Namespace, node: OfflineNode) -> int:
    from chargeledger.application.registry import RegistryError

    registry = node.stations
    try:
        if args.action == "add":
            await registry.add(args.id, args.password, node.clock.now().isoformat())
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


async def _tags(args: argparse.Namespace, node: OfflineNode) -> int:
    from chargeledger.application.id_tags import InvalidIdTagError

    registry = node.id_tags
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


async def _events(args: argparse.Namespace, node: OfflineNode) -> int:
    store = node.store
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
