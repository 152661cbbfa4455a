"""Settings of one node, each declared once: its type, its default, and the help text of
its command-line option. ``chargeledger serve``'s options are generated from these
declarations (entrypoints/cli_options.py), and so is ``Settings.from_env()``: both read
``CHARGELEDGER_<OPTION>`` from the environment, the option's name in capitals."""

from __future__ import annotations

import dataclasses
import os
import secrets
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chargeledger.application.ports import RESPONSE_TIMEOUT_S
from chargeledger.application.twin_service import FLUSH_INTERVAL_S
from chargeledger.domain.enums import UnknownStations
from chargeledger.domain.remote_start_policy import DEFAULT_CONNECTION_TIMEOUT_S

DEFAULT_STORE = "sqlite:///./chargeledger.db"

GATEWAY = "OCPP gateway"
HTTP = "HTTP API"


class UnknownIdTags(StrEnum):
    """What a remote start for an id tag the registry does not hold does: it is sent,
    or refused as a tag the registry refuses is."""

    SEND = "send"
    REFUSE = "refuse"


def env(name: str, default: str) -> str:
    return os.environ.get(env_name(name), default)


def env_name(name: str) -> str:
    """``ocpp-port`` (or ``--ocpp-port``) -> ``CHARGELEDGER_OCPP_PORT``."""
    return "CHARGELEDGER_" + name.lstrip("-").upper().replace("-", "_")


@dataclass(frozen=True)
class Option:
    """How a setting shows on the command line: its help text, the section of
    ``serve --help`` it is listed in (``None``: the command's own options), and the
    default it names when the default itself says nothing (``shown_default``)."""

    help: str
    section: str | None = None
    shown_default: str | None = None
    hidden: bool = False
    """Not listed in ``--help`` (fault injection for tests)."""
    flag: str = ""
    """Set from the field's name: ``heartbeat_interval_s`` -> ``--heartbeat-interval``."""


def setting(
    default: Any,
    help: str,
    *,
    section: str | None = None,
    shown_default: str | None = None,
    hidden: bool = False,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A setting with its command-line option (see ``Option``)."""
    option = Option(help, section, shown_default, hidden)
    if default_factory is not None:
        return field(default_factory=default_factory, metadata={"option": option})
    return field(default=default, metadata={"option": option})


@dataclass(frozen=True)
class Settings:
    store: str = DEFAULT_STORE
    """The event store's URL: ``--store``, an option every command shares."""
    host: str = setting("127.0.0.1", "address to listen on for OCPP and HTTP")
    ocpp_port: int = setting(9000, "port of the OCPP endpoint")
    api_port: int = setting(8000, "port of the HTTP API and page")
    node_id: str = setting("node-1", "this node's name in logs, metrics and the cluster")
    api_token: str = setting(
        None,
        "bearer token of the HTTP API",
        shown_default="a new random one, printed at start",
        default_factory=lambda: secrets.token_urlsafe(24),
    )
    unknown_stations: UnknownStations = setting(
        UnknownStations.REJECT,
        "a station missing from the registry: reject its connection, or accept it",
    )
    tls_cert: str | None = setting(None, "PEM certificate: serve wss:// (security profile 2)")
    tls_key: str | None = setting(None, "PEM private key of --tls-cert")
    heartbeat_interval_s: int = setting(300, "seconds between heartbeats, told to stations at boot")
    response_timeout_s: float = setting(
        RESPONSE_TIMEOUT_S, "seconds a station has to answer one of our CALLs"
    )
    command_ttl_s: float = setting(
        600.0, "seconds an operator command may wait for its station before it expires"
    )
    read_wait_s: float = setting(
        5.0, "seconds a read with ?min_position waits for the read models before a 503"
    )
    reconcile_grace_s: float = setting(
        10.0, "seconds a reconnected station has to show what an in-doubt command did"
    )
    connection_timeout_s: float = setting(
        DEFAULT_CONNECTION_TIMEOUT_S,
        "seconds a station waits for a cable after accepting a remote start, when it "
        "has not reported its ConnectionTimeOut (the hold on the connector ends then)",
    )
    remote_start_unknown_tags: UnknownIdTags = setting(
        UnknownIdTags.SEND,
        "a remote start for an id tag the registry does not hold: send it, or refuse "
        "it (409 IdTagNotAccepted) as a tag the registry refuses is",
    )
    lease_s: float = setting(
        10.0,
        "seconds without renewing its lease after which a node loses its stations "
        "(several nodes on PostgreSQL)",
    )
    crash_at: str | None = setting(None, "fault injection for tests", hidden=True)
    """``POINT:N`` (see application/faults.py)."""

    ping_interval_s: float = setting(
        30.0, "seconds of silence before a WebSocket ping", section=GATEWAY
    )
    ping_timeout_s: float = setting(
        30.0,
        "seconds to wait for any answer to a ping before dropping the station",
        section=GATEWAY,
    )
    max_frame_bytes: int = setting(
        64 * 1024,
        "largest message a station may send; a larger one closes with 1009",
        section=GATEWAY,
    )
    handshake_timeout_s: float = setting(
        10.0, "seconds for a station to complete the TLS and HTTP handshake", section=GATEWAY
    )
    close_timeout_s: float = setting(
        5.0, "seconds a closing or superseded connection gets before it is cut", section=GATEWAY
    )
    station_queue: int = setting(
        64, "CALLs that may wait per station before a new one is refused", section=GATEWAY
    )
    max_ocpp_connections: int = setting(
        20_000,
        "open OCPP connections at most (0: no cap; kept 1024 below the file limit); "
        "more are answered 503",
        section=GATEWAY,
    )
    max_ocpp_connections_per_address: int = setting(
        1_000,
        "open OCPP connections from one client address or IPv6 /64 (0: no cap; "
        "behind a proxy that hides station addresses, use 0)",
        section=GATEWAY,
    )
    new_stations_per_minute: float = setting(
        60.0,
        "with --unknown-stations accept: station ids never seen before that one "
        "client address may connect per minute (more are answered 429)",
        section=GATEWAY,
    )
    data_transfer_vendors: tuple[str, ...] = setting(
        (),
        "comma-separated vendor ids whose DataTransfer is Accepted (else UnknownVendorId)",
        section=GATEWAY,
    )

    max_body_bytes: int = setting(
        64 * 1024,
        "largest request body; a larger one is refused with 413 before it is read",
        section=HTTP,
    )
    http_header_timeout_s: float = setting(
        10.0,
        "seconds a client has to send a request's line and headers (then 408)",
        section=HTTP,
    )
    http_keep_alive_s: int = setting(
        30, "seconds an idle connection is kept between requests", section=HTTP
    )
    max_http_connections: int = setting(
        0,
        "connections the API holds at once (503 beyond); 0: a quarter of ulimit -n, "
        "at most 1024, leaving the rest for stations",
        section=HTTP,
    )
    max_http_connections_per_client: int = setting(
        0,
        "connections one client address holds at once; 0: a quarter of the API's cap",
        section=HTTP,
    )
    ready_max_lag: int = setting(
        10_000,
        "events the read models may trail the log by while /readyz answers 200",
        section=HTTP,
    )

    api_token_generated: bool = False
    """The token was made for this run (no ``--api-token``): it may be printed."""
    twin_flush_interval_s: float = FLUSH_INTERVAL_S
    """Seconds between two writes of the changed twins."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings ``chargeledger serve`` would run with, without options given:
        each from ``CHARGELEDGER_<OPTION>`` when set, else its default."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        store = environ.get(env_name("store"))
        if store:
            values["store"] = store
        for declared in settings_options():
            raw = environ.get(env_name(declared.option.flag))
            if raw:
                values[declared.name] = declared.parse(raw)
        values["api_token_generated"] = "api_token" not in values
        return cls(**values)


@dataclass(frozen=True)
class DeclaredSetting:
    """A field of ``Settings`` that has an option, with its parser from its type."""

    name: str
    option: Option
    default: Any
    """The default the option shows and falls back to (``""`` for a made one)."""
    parse: Callable[[str], Any]
    choices: tuple[str, ...] | None


def settings_options() -> list[DeclaredSetting]:
    """Every setting that has an option, in declaration order (the order of ``--help``)."""
    types = typing.get_type_hints(Settings)
    declared: list[DeclaredSetting] = []
    for each in dataclasses.fields(Settings):
        option = each.metadata.get("option")
        if option is None:
            continue
        flag = "--" + each.name.removesuffix("_s").replace("_", "-")
        kind = types[each.name]
        made = each.default is dataclasses.MISSING
        declared.append(
            DeclaredSetting(
                each.name,
                dataclasses.replace(option, flag=flag),
                "" if made or each.default == () else each.default,
                _parser(kind),
                tuple(kind) if isinstance(kind, type) and issubclass(kind, StrEnum) else None,
            )
        )
    return declared


def _parser(kind: Any) -> Callable[[str], Any]:
    """How a text from the command line or the environment becomes a value of ``kind``."""
    if kind in (int, float):
        return typing.cast(Callable[[str], Any], kind)
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return kind
    if kind == tuple[str, ...]:
        return comma_separated
    return str


def comma_separated(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(",") if part)
