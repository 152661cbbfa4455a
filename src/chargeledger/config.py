"""Settings of one node. Every option also reads ``CHARGELEDGER_<OPTION>`` from the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

DEFAULT_STORE = "sqlite:///./chargeledger.db"


def env(name: str, default: str) -> str:
    return os.environ.get(f"CHARGELEDGER_{name.upper().replace('-', '_')}", default)


@dataclass(frozen=True)
class Settings:
    store: str = DEFAULT_STORE
    host: str = "127.0.0.1"
    ocpp_port: int = 9000
    api_port: int = 8000
    node_id: str = "node-1"
    api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    api_token_generated: bool = False
    unknown_stations: str = "reject"  # reject | accept
    tls_cert: str | None = None
    tls_key: str | None = None
    heartbeat_interval_s: int = 300
    response_timeout_s: float = 30.0
    command_ttl_s: float = 600.0
    ping_interval_s: float = 30.0
    ping_timeout_s: float = 30.0
    max_frame_bytes: int = 64 * 1024
    handshake_timeout_s: float = 10.0
    close_timeout_s: float = 5.0
    station_queue: int = 64
    max_ocpp_connections: int = 20_000
    max_ocpp_connections_per_address: int = 1_000
    new_stations_per_minute: float = 60
    """Accept mode: station ids never seen before that one client address may bring."""
    data_transfer_vendors: tuple[str, ...] = ()
    twin_flush_interval_s: float = 0.5
    read_wait_s: float = 5.0
    reconcile_grace_s: float = 10.0
    connection_timeout_s: float = 120.0
    remote_start_unknown_tags: str = "send"  # send | refuse
    """A station's ConnectionTimeOut when it has not reported its own (remote-start holds)."""
    lease_s: float = 10.0
    """Cluster (PostgreSQL): a node that has not renewed its lease this long loses its stations."""
    max_body_bytes: int = 64 * 1024
    """The largest HTTP request body; a larger one is refused with 413 unread."""
    http_header_timeout_s: float = 10.0
    """Seconds an HTTP client has to send a request's line and headers (then 408)."""
    http_keep_alive_s: int = 30
    """Seconds an HTTP connection may sit idle between requests."""
    max_http_connections: int = 0
    """HTTP connections the API port holds at once; 0: a quarter of ``ulimit -n``, at most 1024."""
    max_http_connections_per_client: int = 0
    """HTTP connections one client address holds at once; 0: a quarter of the port's cap."""
    ready_max_lag: int = 10_000
    """Events the read models may trail the log by and the node still be ready."""
    crash_at: str | None = None
    """Fault injection for tests only: ``POINT:N`` (see application/faults.py)."""

    @property
    def accept_unknown_stations(self) -> bool:
        return self.unknown_stations == "accept"
