"""The ``chargeledger`` command: serve a node, simulate stations, manage the registry,
read the log, send station commands. A user's mistake ends in one line on stderr
(``UserError``), never a traceback.

This module builds the parser and runs the subcommand; each group of subcommands lives
in its own module: ``cli_serve`` (serve, cluster), ``cli_simulate``, ``cli_store``
(stations, tags, events, projections), ``cli_send`` and ``cli_bench``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from chargeledger.adapters import logs
from chargeledger.entrypoints import cli_bench, cli_send, cli_serve, cli_simulate, cli_store
from chargeledger.entrypoints.cli_options import Parser, UserError, shared_options

DESCRIPTION = """chargeledger: serve a node, simulate stations, manage the registry, read the
log, send station commands.

Every option also reads CHARGELEDGER_<OPTION> from the environment; --store,
--log-level and --log-format go before or after the subcommand."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="chargeledger", description=DESCRIPTION)
    shared_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cli_serve.add_serve_parser(sub)
    cli_simulate.add_parser(sub)
    cli_store.add_stations_parser(sub)
    cli_store.add_tags_parser(sub)
    cli_send.add_parser(sub)
    cli_bench.add_parser(sub)
    cli_serve.add_cluster_parser(sub)
    cli_store.add_events_parser(sub)
    cli_store.add_projections_parser(sub)
    return parser


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
        return cli_serve.serve_node(args)
    if args.command == "simulate":
        return cli_simulate.simulate(args)
    if args.command == "cluster":
        return cli_serve.start_cluster(args)
    if args.command == "stations":
        return cli_store.stations(args)
    if args.command == "tags":
        return cli_store.tags(args)
    if args.command == "events":
        return cli_store.events(args)
    if args.command == "projections":
        return cli_store.projections(args)
    if args.command == "bench":
        return cli_bench.bench(args)
    if args.command == "send":
        return cli_send.send(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
