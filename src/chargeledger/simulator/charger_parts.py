"""The plain parts a simulated ``Charger`` is made of: the ``Behaviour`` it is given
(connectors, timings, power, speed), the ``Counters`` it keeps, and the state of each
``Connector``. Apart from the charger's behaviour since the station's connection and
the fleet read and build them too, without needing what a charger does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chargeledger.simulator.power import Vehicle


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Behaviour:
    connectors: int = 2
    charge_seconds: tuple[float, float] | None = (30.0, 120.0)
    """How long a remote-started session lasts before its car leaves; None: until unplugged."""
    meter_interval_s: float = 10.0
    power_w: float = 11_000.0
    """The most a connector delivers."""
    vehicle: Vehicle = field(default_factory=Vehicle)
    reconnect_base_s: float = 1.0
    reconnect_cap_s: float = 30.0
    response_timeout_s: float = 30.0
    transaction_message_attempts: int = 3
    transaction_message_retry_s: float = 5.0
    speed: float = 1.0
    """Simulated seconds per real second (a scenario's ``speed``): energy and state of
    charge follow simulated time; timestamps stay real."""


@dataclass
class Counters:
    calls_received: int = 0
    heartbeats: int = 0
    transactions: int = 0
    stops: int = 0
    by_action: dict[str, int] = field(default_factory=dict)


@dataclass
class Connector:
    status: str = "Available"
    plugged: bool = False
    meter_wh: float = 0.0
    vehicle: Vehicle = field(default_factory=Vehicle)
    soc_percent: float = 0.0
    power_w: float = 0.0
    transaction_ref: int | None = None
    transaction_id: int | None = None
    id_tag: str | None = None
    pending_tag: str | None = None
    remote: bool = False
    started_at: float = 0.0
    inoperative_after_charge: bool = False
    metering: asyncio.Task[None] | None = None
    leaving: asyncio.Task[None] | None = None

    @property
    def charging(self) -> asyncio.Task[None] | None:
        """The session's task (cancelled by a remote stop in older callers)."""
        return self.metering
