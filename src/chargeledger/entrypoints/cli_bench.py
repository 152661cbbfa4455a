"""``chargeledger bench``: run a benchmark of the checkout's bench/ folder. Apart
because the benchmarks are not part of the installed package: this module finds the
checkout and explains what is missing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chargeledger.entrypoints.cli_options import Parser, UserError, option, subcommand

BENCHMARKS = ["store", "bus", "gateway", "commands", "e2e", "cluster", "fuzz"]


BENCH_DESCRIPTION = """a benchmark from bench/, beside its baseline.

The benchmarks are not part of the installed package: they live in the bench/ folder of
a chargeledger checkout and need its bench extra (make install, or pip install -e
'.[bench]'). Run this command inside the checkout."""


def add_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    bench = subcommand(
        sub,
        "bench",
        "a benchmark from bench/, beside its baseline",
        description=BENCH_DESCRIPTION,
    )
    bench.add_argument(
        "name", choices=[*BENCHMARKS, "all"], help="the benchmark, or all of them in turn"
    )
    option(bench, "--quick", False, "finish within 60 s", type=bool)
    option(bench, "--json", False, "one JSON object per benchmark", type=bool)
    option(
        bench,
        "--postgres",
        "postgresql://postgres@127.0.0.1:5432/test",
        "PostgreSQL DSN for the workloads that run on it",
    )


def checkout_with_benchmarks(start: Path) -> Path | None:
    """The chargeledger checkout ``start`` is in (it or a parent holds bench/common.py
    beside pyproject.toml), or ``None``."""
    for folder in (start, *start.parents):
        if (folder / "bench" / "common.py").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return None


def bench(args: argparse.Namespace) -> int:
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
