"""Which of chargeledger's modules one remote start runs through, from the HTTP route
to the CALL on the station's link (issue 12's measure of the walk).

Serves a node in this process (SQLite in a temporary folder, free ports), boots a
station of the ``ocpp`` package, then profiles every Python call of the process from
just before ``POST /api/stations/CP1/commands/remote-start`` until the station has
the ``RemoteStartTransaction`` CALL in hand. Prints the modules of ``chargeledger``
that ran, with their functions, and the count. Work the node does beside the command
in that window (the projection following the log, the twin writer) is counted too
and marked as such.

    .venv/bin/python scripts/trace_remote_start.py [--functions]
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from ocpp.routing import on
from ocpp.v16.enums import Action

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402
from tests.e2e.conftest import ServedNode, Station, connected_station  # noqa: E402

from chargeledger.config import Settings  # noqa: E402
from chargeledger.domain.enums import UnknownStations  # noqa: E402
from chargeledger.entrypoints.server import serve  # noqa: E402

PACKAGE = str(ROOT / "src" / "chargeledger")
BESIDE = (
    "projection",
    "read_model",
    "holdings_",
    "twin_service",
    "telemetry",
    "reservation_expiry",
    "supervisor",
)
"""Modules whose work in the window is the node's, beside the command's walk."""

calls: dict[str, set[str]] = defaultdict(set)


def _profile(frame: FrameType, event: str, arg: Any) -> None:
    if event == "call" and frame.f_code.co_filename.startswith(PACKAGE):
        module = frame.f_code.co_filename[len(PACKAGE) + 1 :]
        calls[module].add(frame.f_code.co_qualname)


class TracedStation(Station):  # type: ignore[misc]
    @on(Action.remote_start_transaction)
    async def on_remote_start(self, **payload: Any) -> Any:
        sys.setprofile(None)  # the CALL has arrived: the walk ends here
        threading.setprofile(None)  # type: ignore[arg-type]
        return await super().on_remote_start(**payload)


async def main(show_functions: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="trace-") as folder:
        ocpp_port, api_port = free_port(), free_port()
        settings = Settings(
            store=f"sqlite:///{Path(folder) / 'node.db'}",
            ocpp_port=ocpp_port,
            api_port=api_port,
            api_token="trace",
            unknown_stations=UnknownStations.ACCEPT,
        )
        ready = asyncio.Event()
        served = asyncio.create_task(serve(settings, ready))
        await asyncio.wait_for(ready.wait(), 30)
        node = ServedNode(
            None,  # type: ignore[arg-type]
            settings.store,
            f"ws://127.0.0.1:{ocpp_port}/ocpp",
            f"http://127.0.0.1:{api_port}",
            Path(folder) / "log",
        )
        async with (
            connected_station(node, "CP1", TracedStation) as station,
            httpx.AsyncClient(
                base_url=node.api_url, headers={"Authorization": "Bearer trace"}, timeout=10
            ) as api,
        ):
            await station.boot()
            await asyncio.sleep(1)  # the boot's projection and twin writes are done
            threading.setprofile(_profile)
            sys.setprofile(_profile)
            answer = await api.post(
                "/api/stations/CP1/commands/remote-start",
                json={"connector_id": 1, "id_tag": "TAG"},
                headers={"Idempotency-Key": "trace-1"},
            )
            assert answer.status_code == 202, answer.text
            for _ in range(200):
                if station.received:
                    break
                await asyncio.sleep(0.05)
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
            assert station.received, "the CALL never arrived"
        served.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await served
    walk = sorted(m for m in calls if not any(word in m for word in BESIDE))
    beside = sorted(m for m in calls if any(word in m for word in BESIDE))
    for title, modules in (("walk", walk), ("beside the walk", beside)):
        print(f"{title}: {len(modules)} modules")
        for module in modules:
            functions = f"  ({', '.join(sorted(calls[module]))})" if show_functions else ""
            print(f"  {module}{functions}")
    print(f"total: {len(calls)} modules of chargeledger ran")


if __name__ == "__main__":
    asyncio.run(main("--functions" in sys.argv))
