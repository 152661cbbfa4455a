"""Read side: station and command views, as CONTRACT.md shapes them."""

from __future__ import annotations

from typing import Any

from chargeledger.application.ports import DocumentStore
from chargeledger.application.projections import (
    COMMANDS,
    STATIONS,
    TRANSACTIONS,
    transaction_key,
)
from chargeledger.application.registry import REGISTRY
from chargeledger.application.twin_service import TwinService, meter_series
from chargeledger.domain.twin import StationTwin

COMMAND_VIEW_FIELDS = (
    "command_id",
    "station_id",
    "name",
    "status",
    "detail",
    "result",
    "error_code",
    "error_description",
    "attempts",
    "requested_at",
    "dispatched_at",
    "answered_at",
    "expires_at",
    "merged_keys",
    "position",
)
TRANSACTION_VIEW_FIELDS = (
    "transaction_id",
    "station_id",
    "connector_id",
    "id_tag",
    "id_tag_status",
    "status",
    "meter_start",
    "started_at",
    "meter_stop",
    "stopped_at",
    "stop_reason",
    "energy_wh",
    "energy_anomaly",
    "last_meter_value",
    "meter_value_count",
    "remote_start_command_id",
    "abandoned_for",
    "unconfirmed_reason",
    "close_reason",
    "position",
)


def command_view(doc: dict[str, Any]) -> dict[str, Any]:
    """``error_code``: the CALLERROR code, ``Timeout``, ``Expired``, ``InDoubt``, ``NotSent``
    (``None`` unless it ended so); ``attempts``: how often it was sent; ``merged_keys``:
    the Idempotency-Keys of the requests that repeated it while it was open."""
    view = {name: doc.get(name) for name in COMMAND_VIEW_FIELDS}
    view["attempts"] = doc.get("attempts", doc.get("attempt", 0))
    view["merged_keys"] = list(doc.get("merged_keys") or [])
    return view


def transaction_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A charging session: ``status`` is open, stopped, abandoned (the station started
    another session on the connector without stopping this one), unconfirmed (the
    station rebooted and reports the connector free; still waiting for its stop) or
    closed (by an operator, ``close_reason``)."""
    return {name: doc.get(name) for name in TRANSACTION_VIEW_FIELDS}


def station_view(
    station_id: str, twin: StationTwin | None, business: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": station_id,
        "connected": bool(twin and twin.connected),
        "last_heartbeat": twin.last_heartbeat if twin else None,
        "registration": (business or {}).get("registration"),
        "connectors": [
            {"id": cid, "status": c.status, "error_code": c.error_code}
            for cid, c in (twin.connectors.items() if twin else ())
        ],
        "version": (business or {}).get("version", 0),
        "position": (business or {}).get("position", 0),
    }


class Views:
    def __init__(self, documents: DocumentStore, twin: TwinService) -> None:
        self._documents = documents
        self._twin = twin

    async def station(self, station_id: str) -> dict[str, Any] | None:
        twin = self._twin.get(station_id)
        business = await self._documents.get(STATIONS, station_id)
        if (
            twin is None
            and business is None
            and await self._documents.get(REGISTRY, station_id) is None
        ):
            return None
        return station_view(station_id, twin, business)

    async def stations(self) -> list[dict[str, Any]]:
        business = {doc["id"]: doc for doc in await self._documents.list(STATIONS)}
        registered = {doc["station_id"] for doc in await self._documents.list(REGISTRY)}
        twins = {twin.station_id: twin for twin in self._twin.all()}
        ids = sorted(set(business) | registered | set(twins))
        return [station_view(sid, twins.get(sid), business.get(sid)) for sid in ids]

    async def command(self, command_id: str) -> dict[str, Any] | None:
        """The command's view; for a key merged into another request, that request's view
        with ``requested_as``."""
        doc = await self._documents.get(COMMANDS, command_id)
        if doc is None:
            return None
        into = doc.get("merged_into")
        if into is None:
            return command_view(doc)
        target = await self._documents.get(COMMANDS, into)
        if target is None:
            return None
        return {**command_view(target), "requested_as": command_id}

    async def station_known(self, station_id: str) -> bool:
        return await self.station(station_id) is not None

    async def transaction(self, transaction_id: int) -> dict[str, Any] | None:
        doc = await self._documents.get(TRANSACTIONS, transaction_key(transaction_id))
        if doc is None:
            return None
        return await self._with_meters(doc)

    async def _with_meters(self, doc: dict[str, Any]) -> dict[str, Any]:
        view = transaction_view(doc)
        meters = await self._twin.meters(doc["station_id"], int(doc["transaction_id"]))
        if meters is not None:
            view["last_meter_value"] = meters["last"]
            view["meter_value_count"] = meters["count"]
        return view

    async def transaction_meter_values(self, transaction_id: int) -> dict[str, Any] | None:
        """The session's readings over time (energy and power, thinned to a bounded
        number of points), for a chart; ``None`` when there is no such session."""
        doc = await self._documents.get(TRANSACTIONS, transaction_key(transaction_id))
        if doc is None:
            return None
        meters = await self._twin.meters(doc["station_id"], int(doc["transaction_id"]))
        return {
            "transaction_id": doc["transaction_id"],
            "station_id": doc["station_id"],
            "meter_start": doc.get("meter_start"),
            "points": meter_series(meters),
        }

    async def transactions(self, station_id: str | None = None) -> list[dict[str, Any]]:
        """Charging sessions in transaction order, of one station when given."""
        docs = await self._documents.list(TRANSACTIONS, tag=station_id)
        views = []
        for doc in docs:
            view = transaction_view(doc)
            meters = await self._twin.meters(doc["station_id"], int(doc["transaction_id"]))
            if meters is not None:
                view["last_meter_value"] = meters["last"]
                view["meter_value_count"] = meters["count"]
            views.append(view)
        return views
