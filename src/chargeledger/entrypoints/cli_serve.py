"""``chargeledger serve`` and ``chargeledger cluster``: run one node, or a local cluster
of them. Apart from the store commands because these start listeners and workers: their
options are the node's settings, and their mistakes are taken ports and unusable files."""

from __future__ import annotations

import argparse
import asyncio
import secrets
from typing import Any

from chargeledger.config import GATEWAY, HTTP, Settings, settings_options
from chargeledger.entrypoints.cli_options import (
    Parser,
    UserError,
    option,
    setting_option,
    subcommand,
)
from chargeledger.entrypoints.cli_store import node_lock
from chargeledger.errors import TooFewFilesError


def add_serve_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """``serve``'s options: one per setting that declares one (config.py), in its section."""
    p = subcommand(sub, "serve", "run one node: OCPP endpoint, HTTP API, page, workers")
    sections: dict[str | None, argparse.ArgumentParser | argparse._ArgumentGroup] = {
        None: p,
        GATEWAY: p.add_argument_group(GATEWAY),
        HTTP: p.add_argument_group(HTTP),
    }
    for declared in settings_options():
        setting_option(sections[declared.option.section], declared)


def add_cluster_parser(sub: argparse._SubParsersAction[Parser]) -> None:
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


def serve_node(args: argparse.Namespace) -> int:
    import ssl

    from chargeledger.adapters.postgres_database import StoreUnavailableError
    from chargeledger.bootstrap import tls_context
    from chargeledger.entrypoints.collector import tune_collector
    from chargeledger.entrypoints.server import serve

    settings = _settings(args)
    try:
        tls_context(settings)  # read now: a wrong path is a mistake, not a crash later
    except (OSError, ssl.SSLError) as unusable:
        raise UserError(f"--tls-cert/--tls-key: cannot use them: {unusable}") from None
    _ports_free(settings)
    lock = node_lock(settings.store, "serve")
    tune_collector()
    try:
        asyncio.run(serve(settings))
    except TooFewFilesError as too_few:
        raise UserError(str(too_few)) from None
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


def start_cluster(args: argparse.Namespace) -> int:
    from chargeledger.entrypoints.cluster import run_cluster

    extra = [o for o in args.serve_options if o != "--"]
    token = args.api_token or secrets.token_urlsafe(24)
    return run_cluster(args.nodes, args.store, args.ocpp_port, args.api_port, token, extra)
