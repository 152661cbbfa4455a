"""What the 2.0.1 station's answering mixins (``SmartCharging201``, ``Reports201``,
``Operations201``) use of the ``SimulatedStation201`` they are mixed into."""

from __future__ import annotations

from typing import Any


class StationParts201:
    charger: Any
    evses: Any
    transactions: Any
    call: Any
    _count: Any
    _spawn: Any
