"""End to end: OCPP 2.0.1 resets of single EVSEs pend side by side, a reset of the whole
station pends alone (issue 17), with the ``ocpp`` package's v201 ``ChargePoint`` as the
station, holding its answer to the first Reset until told."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp.routing import on
from ocpp.v201 import call_result
from ocpp.v201.enums import Action

from tests.e2e.conftest import ServedNode, eventually
from tests.e2e.station201 import Station201, command, connected_201, ended


class SlowToReset(Station201):
    """Answers its first Reset only once ``go`` is set; the node meanwhile holds the
    next CALLs (one outstanding CALL per connection), so every reset stays pending."""

    def __init__(self, station_id: str, connection: Any) -> None:
        super().__init__(station_id, connection)
        self.go = asyncio.Event()
        self.asked = asyncio.Event()

    @on(Action.reset)
    async def on_reset(self, **payload: Any) -> Any:
        self.asked.set()
        await self.go.wait()
        return call_result.Reset(status=self._got("Reset", payload))


async def test_resets_of_two_evses_pend_at_once_and_a_reset_of_the_station_waits(
    node: ServedNode,
) -> None:
    async with (
        connected_201(node, "RS-1", station_type=SlowToReset) as station,
        node.client() as api,
    ):
        assert isinstance(station, SlowToReset)
        await station.boot()
        for evse in (1, 2):
            await station.status(evse, 1, "Available")
        first = await command(api, "RS-1", "reset", "e-1", type="Soft", evse_id=1)
        assert first.status_code == 202, first.text
        await asyncio.wait_for(station.asked.wait(), 10)  # on the wire, unanswered
        second = await command(api, "RS-1", "reset", "e-2", type="Hard", evse_id=2)
        assert second.status_code == 202, second.text  # another EVSE: not blocked
        whole = await command(api, "RS-1", "reset", "w-1", type="Hard")
        assert (whole.status_code, whole.json()["error"]) == (409, "CommandPending")
        same_evse = await command(api, "RS-1", "reset", "e-3", type="Hard", evse_id=1)
        assert (same_evse.status_code, same_evse.json()["error"]) == (409, "CommandPending")

        station.go.set()
        await ended(api, "e-1", "accepted")
        await ended(api, "e-2", "accepted")
        assert station.received == [
            ("Reset", {"type": "OnIdle", "evse_id": 1}),
            ("Reset", {"type": "Immediate", "evse_id": 2}),
        ]
        # Both answered: the station may be reset as a whole, and then it pends alone.
        again = await command(api, "RS-1", "reset", "w-2", type="Hard")
        assert again.status_code == 202, again.text
        await ended(api, "w-2", "accepted")
        assert station.received[-1] == ("Reset", {"type": "Immediate"})


async def test_a_reset_of_one_evse_waits_for_a_pending_reset_of_the_station(
    node: ServedNode,
) -> None:
    async with (
        connected_201(node, "RS-2", station_type=SlowToReset) as station,
        node.client() as api,
    ):
        assert isinstance(station, SlowToReset)
        await station.boot()
        await station.status(1, 1, "Available")
        whole = await command(api, "RS-2", "reset", "w-1", type="Soft")
        assert whole.status_code == 202, whole.text
        await asyncio.wait_for(station.asked.wait(), 10)
        one = await command(api, "RS-2", "reset", "e-1", type="Soft", evse_id=1)
        assert (one.status_code, one.json()["error"]) == (409, "CommandPending")
        assert "w-1" in one.json()["detail"]
        station.go.set()
        await ended(api, "w-1", "accepted")

        async def free() -> Any:
            later = await command(api, "RS-2", "reset", "e-2", type="Soft", evse_id=1)
            return later if later.status_code == 202 else None

        await eventually(free)
        await ended(api, "e-2", "accepted")
