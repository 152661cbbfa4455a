"""Which of chargeledger's modules one remote start runs through, from the HTTP route
to the CALL on the station's link (issue 12's measure of the walk).

Serves a node in this process (SQLite in a temporary folder, free ports), boots a
station of the ``ocpp`` package, then profiles every Python call of the process from
just before ``POST /api/stations/CP1/commands/remote-start`` until the station has
the ``RemoteStartTransaction`` CALL in hand. A call counts for the module that wrote
the code, including the ``__init__`` a dataclass generates (its file is its class's
module): a module that only declares the command's or event's type is crossed too.

Prints two counts, each module with the functions that ran in it:

- **all modules run**: every module of ``chargeledger`` that ran in the window;
- **the remote start's own path**: what is left once the modules of generic
  infrastructure are set apart (``INFRASTRUCTURE``: the store, the HTTP framework
  and its hardening, the OCPP-J wire, logging and metrics, the clock, each with the
  reason) and the node's work beside the command (``BESIDE``: the projection
  following the log, the twin writer; such a module counts for the walk when the walk
  itself calls into it, but what only the node's own work ran there pulls no further
  module in). These are the files a reader opens to follow the remote
  start's own logic: route, body, lookups, command, decision, event, dispatcher,
  spec. It is the count issue 12 compares with its baseline (about 23) and with
  cosmicpython's allocate path (7), which leave out the store, the framework and
  logging too.

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
    "meter_documents",
    "telemetry",
    "reservation_expiry",
    "supervisor",
)
"""Modules whose work in the window is the node's, beside the command's walk."""

INFRASTRUCTURE = {
    "adapters/sqlite_database.py": "store",
    "adapters/sqlite_documents.py": "store",
    "adapters/sqlite_store.py": "store",
    "adapters/serialization.py": "store (the events' JSON codec)",
    "adapters/notifier.py": "store (wakes the log's readers)",
    "application/forwarding_store.py": "store (the base of its wrappers: hands a call on)",
    "application/shared_log.py": "store (the log's followers share one read per wake-up)",
    "application/ports.py": "store (the metadata an append carries)",
    "adapters/metrics.py": "metrics",
    "log_context.py": "logging",
    "adapters/ocpp/connection_log.py": "logging",
    "adapters/clock.py": "clock",
    "application/faults.py": "tests' crash points",
    "adapters/capped_listener.py": "HTTP framework (accepts every connection, under caps)",
    "entrypoints/http_listener.py": "HTTP framework (accepts every connection, under caps)",
    "entrypoints/http_guard.py": "HTTP hardening (every route)",
    "entrypoints/http_connections.py": "HTTP hardening (every route)",
    "entrypoints/api/command_fast_path.py": "HTTP framework (runs the route's own function)",
    "entrypoints/api/stations.py": "HTTP framework (every station route's id check)",
    "application/registry.py": "HTTP framework (every station route's id check)",
    "application/queries.py": "the route's answer (every command's view)",
    "application/read_model_documents.py": (
        "read models (the command's document, read for the Idempotency-Key check and the "
        "answer: every command)"
    ),
    "application/projection_cache.py": "store (the read models' cache)",
    "adapters/ocpp/connection.py": "OCPP-J wire (WebSocket frames)",
    "adapters/ocpp/framing.py": "OCPP-J wire (message frames)",
    "adapters/ocpp/schemas.py": "OCPP-J wire (every payload's schema check)",
    "adapters/ocpp/session.py": "OCPP-J wire (a CALL matched to its answer)",
}
"""Generic infrastructure: modules any command (or any request) runs the same way,
left out of the remote start's own path, with the reason."""

calls: dict[str, set[str]] = defaultdict(set)
edges: set[tuple[tuple[str, str], tuple[str, str]]] = set()
"""Calls between functions of ``chargeledger``: ((module, function), (module, function))."""


def _module_of(frame: FrameType) -> str | None:
    """The module of ``chargeledger`` whose code ``frame`` runs, as a path under the
    package; a dataclass's generated methods (file ``<string>``) count for its module."""
    filename = frame.f_code.co_filename
    if filename == "<string>":
        module = sys.modules.get(str(frame.f_globals.get("__name__", "")))
        filename = str(getattr(module, "__file__", None) or "")
    if filename.startswith(PACKAGE):
        return filename[len(PACKAGE) + 1 :]
    return None


def _profile(frame: FrameType, event: str, arg: Any) -> None:
    if event == "call" and (module := _module_of(frame)) is not None:
        calls[module].add(frame.f_code.co_qualname)
        caller = frame.f_back
        if caller is not None and (calling := _module_of(caller)) is not None:
            edges.add(((calling, caller.f_code.co_qualname), (module, frame.f_code.co_qualname)))


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
    generic = sorted(m for m in calls if m in INFRASTRUCTURE)
    beside = {m for m in calls if m not in INFRASTRUCTURE and any(w in m for w in BESIDE)}
    own = {m for m in calls if m not in INFRASTRUCTURE and m not in beside}
    # A module that only the node's own work called (the projection's share of the
    # command's secrets) is that work's, not the walk's.
    callers: dict[str, set[str]] = defaultdict(set)
    for (calling, _), (module, _) in edges:
        if calling != module:
            callers[module].add(calling)
    while moved := {m for m in own if callers[m] and callers[m] <= beside}:
        own -= moved
        beside |= moved
    # A module of the node's own work whose functions the walk called into (the twin,
    # asked for the snapshot the remote start decides on) is on the walk after all; its
    # functions that only the node's own work ran (the twin's writer) do not pull more in.
    reached = {(module, function) for module in own for function in calls[module]}
    while called := {
        callee
        for caller, callee in edges
        if caller in reached and callee[0] not in INFRASTRUCTURE and callee not in reached
    }:
        reached |= called
    promoted = {module for module, _ in reached if module in beside}
    own |= promoted
    beside -= promoted
    groups: tuple[tuple[str, list[str], dict[str, str]], ...] = (
        ("the remote start's own path", sorted(own), {}),
        ("generic infrastructure", generic, INFRASTRUCTURE),
        ("beside the walk (the node's own work)", sorted(beside), {}),
    )
    for title, modules, reasons in groups:
        print(f"{title}: {len(modules)} modules")
        for module in modules:
            reason = f"  [{reasons[module]}]" if module in reasons else ""
            functions = f"  ({', '.join(sorted(calls[module]))})" if show_functions else ""
            print(f"  {module}{reason}{functions}")
    print(f"all modules run: {len(calls)}")
    print(f"the remote start's own path: {len(own)} files")


if __name__ == "__main__":
    asyncio.run(main("--functions" in sys.argv))
