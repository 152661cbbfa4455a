"""End to end: 2.0.1's own operations in doubt (the station took the CALL and left
without answering), reconciled by issue 6's rules: a question is asked again, a
change whose effect cannot be seen ends failed (InDoubt) and is never sent again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v201.enums import Action

from tests.e2e.conftest import eventually, start_node
from tests.e2e.station201 import Station201, command, connected_201, ended


class Leaving201(Station201):
    """Takes a SetVariables or a GetReport and drops the connection without answering."""

    async def _leave(self, action: str, payload: dict[str, Any]) -> None:
        self.received.append((action, payload))
        await self._connection.close()
        await asyncio.sleep(60)

    @on(Action.set_variables)
    async def on_set_variables(self, **payload: Any) -> Any:
        await self._leave("SetVariables", payload)

    @on(Action.get_report)
    async def on_get_report(self, **payload: Any) -> Any:
        await self._leave("GetReport", payload)


async def _true_when(value: Any) -> Any:
    return value


async def test_a_change_in_doubt_fails_and_a_question_in_doubt_is_asked_again(
    tmp_path: Path,
) -> None:
    node = start_node(tmp_path, "--reconcile-grace", "1.5")
    try:
        async with node.client() as api:
            settings = [{"key": "A/B", "value": "1"}]
            async with connected_201(node, "ID-1", station_type=Leaving201) as first:
                await first.boot()
                await command(api, "ID-1", "set-variables", "sv-d", variables=settings)
                await eventually(lambda: _true_when(first.received))
            async with connected_201(node, "ID-1") as second:
                await second.boot()
                view = await ended(api, "sv-d", "failed")
                assert view["error_code"] == "InDoubt"
                assert "SetVariables" not in [a for a, _ in second.received]
            async with connected_201(node, "ID-1", station_type=Leaving201) as third:
                await third.boot()
                await command(api, "ID-1", "get-report", "gr-d")
                await eventually(lambda: _true_when(third.received))
            async with connected_201(node, "ID-1") as fourth:
                await fourth.boot()
                await ended(api, "gr-d", "accepted")
                assert "GetReport" in [a for a, _ in fourth.received]
    finally:
        node.stop()
