"""Every option of every subcommand says what it does, its default and its environment
variable, and the shared ones work before and after the subcommand."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargeledger.entrypoints.cli import build_parser


def _parsers(
    parser: argparse.ArgumentParser, path: str = "chargeledger"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_every_option_shows_its_help_default_and_environment_variable() -> None:
    checked = 0
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._HelpAction):
                continue
            flag = max(action.option_strings, key=len)
            name = "CHARGELEDGER_" + flag.lstrip("-").upper().replace("-", "_")
            assert action.help, f"{path} {flag} has no help"
            assert "(default: " in action.help, f"{path} {flag}: no default in its help"
            assert f"env {name})" in action.help, f"{path} {flag}: no {name} in its help"
            checked += 1
    assert checked > 60


def test_every_argument_without_a_flag_says_what_it_is() -> None:
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.option_strings or isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{path} {action.dest}: no help"


def test_help_has_no_markup() -> None:
    for path, parser in _parsers(build_parser()):
        text = parser.format_help()
        assert "``" not in text, path
        assert not re.search(r"`[^`]+`", text), path


@pytest.mark.parametrize(
    "argv",
    [
        ["--store", "sqlite:///a.db", "--log-level", "info", "stations", "add", "X"],
        ["stations", "add", "X", "--store", "sqlite:///a.db", "--log-level", "info"],
        ["stations", "--store", "sqlite:///a.db", "add", "X", "--log-level", "INFO"],
    ],
)
def test_shared_options_go_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.store == "sqlite:///a.db"
    assert args.log_level == "INFO"
    assert args.log_format == "text"


def test_a_value_after_the_subcommand_wins_over_one_before() -> None:
    args = build_parser().parse_args(
        ["--log-format", "text", "events", "--log-format", "json", "--store", "sqlite:///b.db"]
    )
    assert (args.log_format, args.store) == ("json", "sqlite:///b.db")


def test_the_environment_sets_an_option_and_is_checked_like_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHARGELEDGER_OCPP_PORT", "9123")
    monkeypatch.setenv("CHARGELEDGER_LOG_FORMAT", "json")
    args = build_parser().parse_args(["serve"])
    assert (args.ocpp_port, args.log_format) == (9123, "json")
    monkeypatch.setenv("CHARGELEDGER_UNKNOWN_STATIONS", "maybe")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve"])
    assert "'maybe' is not one of reject, accept" in capsys.readouterr().err


def test_serve_has_one_option_per_declared_setting_and_builds_the_same_settings_as_the_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chargeledger.config import Settings, settings_options
    from chargeledger.entrypoints.cli_serve import _settings

    serve = dict(_parsers(build_parser()))["chargeledger serve"]
    flags = {flag for action in serve._actions for flag in action.option_strings}
    assert {declared.option.flag for declared in settings_options()} <= flags
    for name, value in {
        "STORE": "sqlite:///x.db",
        "API_TOKEN": "t",
        "UNKNOWN_STATIONS": "accept",
        "RESPONSE_TIMEOUT": "7.5",
        "DATA_TRANSFER_VENDORS": "a,b",
        "REMOTE_START_UNKNOWN_TAGS": "refuse",
        "MAX_BODY_BYTES": "123",
    }.items():
        monkeypatch.setenv(f"CHARGELEDGER_{name}", value)
    from_options = _settings(build_parser().parse_args(["serve"]))
    assert from_options == Settings.from_env()
    assert from_options.unknown_stations == "accept"
    assert from_options.data_transfer_vendors == ("a", "b")
    assert (from_options.response_timeout_s, from_options.max_body_bytes) == (7.5, 123)


def test_bench_outside_a_checkout_says_it_needs_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chargeledger.entrypoints.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["bench", "store", "--quick"]) == 2
    assert "run this inside a chargeledger checkout" in capsys.readouterr().err
