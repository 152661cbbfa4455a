"""The commands that work on a store with no node running: ``stations`` and ``tags``
(the registries), ``events`` (read the log) and ``projections rebuild``. Apart because
they share how a store is opened offline, and how a mistake about it is told."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable
from typing import IO, TYPE_CHECKING

from chargeledger.entrypoints.cli_options import Parser, UserError, option, subcommand
from chargeledger.entrypoints.progress import Progress

if TYPE_CHECKING:
    from chargeledger.bootstrap import OfflineNode

STATION_ID = "the station id it connects with (1-48 of A-Z a-z 0-9 * - _ = : + | @ .)"


def add_stations_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    stations = subcommand(
        sub,
        "stations",
        "manage the station registry (the stations allowed to connect)",
    )
    st_sub = stations.add_subparsers(dest="action", required=True)
    add = subcommand(st_sub, "add", "register a new station (refused if it is there)")
    add.add_argument("id", help=STATION_ID)
    option(add, "--password", None, "its HTTP Basic password (security profile 1)")
    password = subcommand(st_sub, "set-password", "change or remove a station's password")
    password.add_argument("id", help=STATION_ID)
    option(password, "--password", None, "the new password")
    option(password, "--no-password", False, "remove the password", type=bool)
    remove = subcommand(st_sub, "remove", "take a station out of the registry")
    remove.add_argument("id", help=STATION_ID)
    subcommand(
        st_sub,
        "list",
        "the stations in the registry; the connected ones: GET /api/stations on a node",
    )


def add_tags_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    tags = subcommand(sub, "tags", "manage the id-tag registry Authorize consults")
    tags_sub = tags.add_subparsers(dest="action", required=True)
    add = subcommand(tags_sub, "add", "add or replace a tag")
    add.add_argument("tag", help="the id tag, as stations send it")
    option(
        add,
        "--status",
        "Accepted",
        "the tag's status",
        choices=["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"],
    )
    option(add, "--expiry", None, "ISO-8601 time the tag expires, with its zone")
    subcommand(tags_sub, "list", "every tag with its status and expiry")


def add_events_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    events = subcommand(sub, "events", "read the event log")
    option(
        events,
        "--stream",
        None,
        "only this station's events (a station id)",
        shown_default="every stream",
    )
    option(events, "--follow", False, "keep printing new events as they come", type=bool)


def add_projections_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    projections = subcommand(sub, "projections", "the read models built from the log")
    projections_sub = projections.add_subparsers(dest="action", required=True)
    subcommand(
        projections_sub, "rebuild", "replay every read model from the log (stop the nodes first)"
    )


def stations(args: argparse.Namespace) -> int:
    return asyncio.run(_with_store(args, _stations))


def tags(args: argparse.Namespace) -> int:
    return asyncio.run(_with_store(args, _tags))


def events(args: argparse.Namespace) -> int:
    return asyncio.run(_with_store(args, _events))


def projections(args: argparse.Namespace) -> int:
    lock = node_lock(args.store, "projections rebuild")
    try:
        return asyncio.run(_rebuild_projections(args))
    finally:
        if lock is not None:
            lock.close()


def node_lock(store: str, role: str) -> IO[str] | None:
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
