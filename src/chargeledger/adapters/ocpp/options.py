"""The OCPP gateway's settings and logger. ``config.Settings`` declares each setting
and its default once; ``bootstrap.gateway_options`` fills these from it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GatewayOptions:
    response_timeout_s: float
    ping_interval_s: float
    ping_timeout_s: float
    max_frame_bytes: int
    handshake_timeout_s: float
    close_timeout_s: float
    max_queue: int
    max_connections: int
    """Open connections on the OCPP port (0: no cap); more are answered 503."""
    max_connections_per_address: int
    """Open connections from one client address or IPv6 /64 (0: no cap)."""
    new_stations_per_address_per_minute: float
    """In accept mode, ids never seen before that one address may bring per minute."""


LOGGER_NAME = "chargeledger.gateway"
"""The logger of every gateway module's own lines (the connection log's among them), so
one name in a log configuration quiets or raises the whole OCPP side."""
