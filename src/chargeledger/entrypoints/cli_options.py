"""Every option of the CLI is declared through ``option``: one place gives it its help
text, its default, and its environment variable ``CHARGELEDGER_<OPTION>``, and shows
all three in ``--help``. The options every command shares (``--store``,
``--log-level``, ``--log-format``) are taken before the subcommand or after it."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from chargeledger.adapters.logs import FORMATS, LEVELS
from chargeledger.config import DEFAULT_STORE, DeclaredSetting, env, env_name
from chargeledger.errors import ChargeledgerError


class UserError(ChargeledgerError):
    """A mistake the user can fix: shown as one line on stderr, exit status 2."""


def one_of(values: Sequence[str], upper: bool = False) -> Callable[[str], str]:
    """A type that accepts only ``values`` and names them all when given another."""

    def parse(text: str) -> str:
        value = text.upper() if upper else text
        if value not in values:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(values)}")
        return value

    parse.__name__ = "one of " + "|".join(values)
    return parse


def checked_url(flag: str, url: str, schemes: Sequence[str], example: str) -> str:
    """``url`` when it has one of ``schemes`` and a host, else a ``UserError`` saying so
    (at once: a wrong URL is not worth retrying)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError as bad:
        raise UserError(f"{flag} {url!r}: not a URL ({bad}); e.g. {example}") from None
    if parts.scheme not in schemes or not parts.hostname:
        raise UserError(
            f"{flag} {url!r}: not a {'/'.join(schemes)} URL with a host; e.g. {example}"
        )
    return url


def flag_value(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("", "0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a yes/no value (1, true, 0, false)")


def option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    flag: str,
    default: Any,
    help: str,
    *,
    type: Callable[[str], Any] = str,
    choices: Sequence[str] | None = None,
    shown_default: str | None = None,
    suppress: bool = False,
    **more: Any,
) -> None:
    """Add ``flag``. Its default is ``CHARGELEDGER_<FLAG>`` when set, else ``default``;
    argparse converts and checks either like a value given on the command line.
    ``suppress``: no default at all (a shared option repeated after the subcommand
    must not overwrite the value given before it)."""
    name = env_name(flag)
    if choices is not None:
        type = one_of(choices)
        more.setdefault("metavar", "{" + ",".join(choices) + "}")
    shown = shown_default if shown_default is not None else _shown(default)
    text = f"{help} (default: {shown}; env {name})".replace("%", "%%")
    if type is bool:
        try:
            on = flag_value(env(name[13:], ""))
        except argparse.ArgumentTypeError as bad:
            raise UserError(f"{name}: {bad}") from None
        default = argparse.SUPPRESS if suppress else on
        parser.add_argument(flag, action="store_true", default=default, help=text, **more)
        return
    value: Any = argparse.SUPPRESS
    if not suppress:
        raw = env(name[13:], "")
        value = raw if raw else default  # argparse converts and checks a string default
    parser.add_argument(flag, default=value, type=type, help=text, **more)


def setting_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, declared: DeclaredSetting
) -> None:
    """The option of one of the node's settings, as ``Settings`` declares it."""
    flag = declared.option.flag
    if declared.option.hidden:
        parser.add_argument(flag, default=env(flag, "") or declared.default, help=argparse.SUPPRESS)
        return
    more: dict[str, Any] = {}
    if declared.choices is not None:
        more["choices"] = declared.choices
    elif declared.parse is not str:
        more["type"] = declared.parse
    if declared.option.shown_default is not None:
        more["shown_default"] = declared.option.shown_default
    option(parser, flag, declared.default, declared.option.help, **more)


def _shown(default: Any) -> str:
    if default is None or default == "":
        return "none"
    if default is False:
        return "off"
    return str(default)


def shared_options(parser: argparse.ArgumentParser, *, top: bool, store: bool = True) -> None:
    """``--store``, ``--log-level``, ``--log-format``: on the top parser with their
    defaults, and again on every subcommand without, so either place works."""
    group = parser.add_argument_group("options every command takes")
    if store:
        option(
            group,
            "--store",
            DEFAULT_STORE,
            "the event store: sqlite:///PATH or postgresql://USER@HOST/DB",
            suppress=not top,
        )
    option(
        group,
        "--log-level",
        "WARNING",
        "lowest level logged, one of " + ", ".join(LEVELS),
        type=one_of(LEVELS, upper=True),
        metavar="LEVEL",
        suppress=not top,
    )
    option(
        group,
        "--log-format",
        "text",
        "log lines as text or as one JSON object each",
        choices=FORMATS,
        suppress=not top,
    )


class Parser(argparse.ArgumentParser):
    """Every subcommand (at any depth) takes the shared options after its name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """One line, not argparse's usage block (thirty lines for ``serve``) above it."""
        self.exit(2, f"{self.prog}: {message}; {self.prog} --help lists the options\n")


def subcommand(
    sub: argparse._SubParsersAction[Parser], name: str, help: str, **kwargs: Any
) -> Parser:
    parser = sub.add_parser(name, help=help, description=kwargs.pop("description", help), **kwargs)
    shared_options(parser, top=False)
    return parser
