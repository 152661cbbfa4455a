"""The OCPP gateway's settings (``bootstrap`` fills them from ``Settings``) and logger."""

from __future__ import annotations

from dataclasses import dataclass

from chargeledger.application.ports import RESPONSE_TIMEOUT_S


@dataclass(frozen=True)
class GatewayOptions:
    response_timeout_s: float = RESPONSE_TIMEOUT_S
    ping_interval_s: float = 30.0
    ping_timeout_s: float = 30.0
    max_frame_bytes: int = 64 * 1024
    handshake_timeout_s: float = 10.0
    close_timeout_s: float = 5.0
    max_queue: int = 64
    max_connections: int = 20_000
    """Open connections on the OCPP port (0: no cap); more are answered 503."""
    max_connections_per_address: int = 1_000
    """Open connections from one client address or IPv6 /64 (0: no cap)."""
    new_stations_per_address_per_minute: float = 60
    """In accept mode, ids never seen before that one address may bring per minute."""


LOGGER_NAME = "chargeledger.adapters.ocpp.gateway"
"""The logger of every gateway module's own lines: the name they had before the
gateway was split into modules, which log configurations may name."""
