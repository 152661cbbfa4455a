"""What a BootNotification's registration is decided from: the station registry's
answer and the node's unknown-station policy, looked up before deciding."""

from __future__ import annotations

from dataclasses import dataclass

from chargeledger.application.registry import StationRegistry
from chargeledger.domain.enums import UnknownStations

__all__ = ["RegistrationPolicy", "UnknownStations"]


@dataclass(frozen=True)
class RegistrationPolicy:
    registry: StationRegistry | None
    """``None``: every id is known (a node without a registry)."""
    unknown_stations: UnknownStations

    async def known(self, station_id: str) -> bool:
        """Whether the registry holds the station (every id, when there is no registry)."""
        return self.registry is None or await self.registry.get(station_id) is not None
