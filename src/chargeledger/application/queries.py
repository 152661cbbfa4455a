"""Read side: station and command views, as CONTRACT.md shapes them."""

from __future__ import annotations

from typing import cast

from chargeledger.application.command_handler import stream_of
from chargeledger.application.document_shapes import MeterValuesView
from chargeledger.application.paging import Page, scan
from chargeledger.application.ports import DocumentStore, EventStore
from chargeledger.application.read_model_documents import (
    COMMAND_ORDER,
    STATIONS,
    TRANSACTIONS,
    read_command,
    read_station,
    read_transaction,
    transaction_key,
)
from chargeledger.application.read_model_shapes import (
    CommandDoc,
    CommandView,
    StationDoc,
    StationView,
    TransactionDoc,
    TransactionView,
)
from chargeledger.application.registry import REGISTRY
from chargeledger.application.twin_documents import meter_series
from chargeledger.application.twin_service import TwinService
from chargeledger.domain.enums import ENDED_STATUSES, TransactionStatus
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.twin import StationTwin


def command_view(doc: CommandDoc) -> CommandView:
    """``error_code``: the CALLERROR code, ``Timeout``, ``Expired``, ``InDoubt``, ``NotSent``
    (``None`` unless it ended so); ``attempts``: how often it was sent; ``merged_keys``:
    the Idempotency-Keys of the requests that repeated it while it was open."""
    ended_at = doc.get("ended_at")
    if ended_at is None and doc.get("status") in ENDED_STATUSES:
        ended_at = doc.get("answered_at")  # projected before ended_at was kept
    return {
        "command_id": doc.get("command_id"),
        "station_id": doc.get("station_id"),
        "name": doc.get("name"),
        "status": doc.get("status"),
        "detail": doc.get("detail"),
        "result": doc.get("result"),
        "error_code": doc.get("error_code"),
        "error_description": doc.get("error_description"),
        "attempts": doc.get("attempts", doc.get("attempt", 0)),
        "requested_at": doc.get("requested_at"),
        "dispatched_at": doc.get("dispatched_at"),
        "answered_at": doc.get("answered_at"),
        "ended_at": ended_at,
        "expires_at": doc.get("expires_at"),
        "merged_keys": list(doc.get("merged_keys") or []),
        "position": doc.get("position"),
    }


def transaction_view(doc: TransactionDoc) -> TransactionView:
    """A charging session: ``status`` is open, stopped, abandoned (the station started
    another session on the connector without stopping this one) or closed (by an
    operator, ``close_reason``). An open session the station lost track of (it rebooted
    and reports the connector free) is ``unconfirmed``, still waiting for its stop.
    ``anomalies``: what was implausible about it (a meter that went down)."""
    status, unconfirmed = doc.get("status"), bool(doc.get("unconfirmed"))
    if status == "unconfirmed":  # as projected before it counted as open
        status, unconfirmed = TransactionStatus.OPEN, True
    anomaly = doc.get("energy_anomaly")
    view: TransactionView = {
        "transaction_id": doc["transaction_id"],
        "station_id": doc["station_id"],
        "connector_id": doc.get("connector_id"),
        "id_tag": doc.get("id_tag"),
        "id_tag_status": doc.get("id_tag_status"),
        "status": status,
        "meter_start": doc.get("meter_start"),
        "started_at": doc.get("started_at"),
        "meter_stop": doc.get("meter_stop"),
        "stopped_at": doc.get("stopped_at"),
        "stop_reason": doc.get("stop_reason"),
        "energy_wh": doc.get("energy_wh"),
        "anomalies": [anomaly] if anomaly else [],
        "energy_anomaly": anomaly,
        "last_meter_value": doc.get("last_meter_value"),
        "meter_value_count": doc.get("meter_value_count"),
        "reservation_id": doc.get("reservation_id"),
        "charging_profile_id": doc.get("charging_profile_id"),
        "remote_start_command_id": doc.get("remote_start_command_id"),
        "abandoned_for": doc.get("abandoned_for"),
        "unconfirmed": unconfirmed,
        "unconfirmed_reason": doc.get("unconfirmed_reason"),
        "close_reason": doc.get("close_reason"),
        "position": doc.get("position"),
    }
    if "station_transaction_id" in doc:  # OCPP 2.0.1's own id, and whether sent offline
        view["station_transaction_id"] = doc["station_transaction_id"]
        view["offline"] = bool(doc.get("offline"))
    return view


_NEVER_BOOTED: StationDoc = {"id": ""}


def station_view(
    station_id: str,
    twin: StationTwin | None,
    business: StationDoc | None,
    last_message_at: str | None = None,
) -> StationView:
    """As CONTRACT.md: the identity is the last BootNotification's (``last_boot`` by our
    clock); ``last_message_at``: when any message of the station last arrived."""
    booted = business or _NEVER_BOOTED
    view: StationView = {
        "id": station_id,
        "connected": bool(twin and twin.connected),
        "protocol": twin.protocol if twin else None,
        "last_heartbeat": twin.last_heartbeat if twin else None,
        "last_message_at": last_message_at,
        "registration": booted.get("registration"),
        "vendor": booted.get("vendor"),
        "model": booted.get("model"),
        "serial": booted.get("serial"),
        "firmware": booted.get("firmware"),
        "last_boot": booted.get("last_boot"),
        "connectors": [
            {"id": cid, "status": c.status, "error_code": c.error_code}
            for cid, c in (twin.connectors.items() if twin else ())
        ],
        "version": booted.get("version", 0),
        "position": booted.get("position", 0),
    }
    if "boot_reason" in booted:  # OCPP 2.0.1 stations
        view["boot_reason"] = booted["boot_reason"]
    if twin is not None and twin.protocol == "ocpp2.0.1":
        view["evses"] = _evses(twin)
    return view


def _evses(twin: StationTwin) -> list[JsonObject]:
    """An OCPP 2.0.1 station's EVSEs, each with its connectors."""
    return [
        {
            "id": evse_id,
            "status": evse.status,
            "connectors": [{"id": cid, "status": s} for cid, s in evse.evse_connectors],
        }
        for evse_id, evse in twin.connectors.items()
    ]


class Views:
    def __init__(self, documents: DocumentStore, twin: TwinService, log: EventStore) -> None:
        self._documents = documents
        self._twin = twin
        self._log = log

    async def station(self, station_id: str) -> StationView | None:
        twin = self._twin.get(station_id)
        business = await read_station(self._documents, station_id)
        if (
            twin is None
            and business is None
            and await self._documents.get(REGISTRY, station_id) is None
        ):
            return None
        return station_view(station_id, twin, business, self._twin.last_message_at(station_id))

    async def stations(self, limit: int, after: str | None = None) -> Page[StationView]:
        """Stations in id order: those with a history, registered, or with a twin. Each
        source is read from ``after`` on for one page; their union's first ``limit`` are
        the page (an id among them is within the first ``limit`` of its source)."""
        business = {
            key: cast(StationDoc, doc)
            for key, doc in await self._documents.page(STATIONS, limit=limit + 1, after=after)
        }
        registered = await self._documents.page(REGISTRY, limit=limit + 1, after=after)
        twinned = [t.station_id for t in self._twin.all() if after is None or t.station_id > after]
        ids = sorted(set(business) | {key for key, _ in registered} | set(twinned[: limit + 1]))
        more = len(ids) > limit
        ids = ids[:limit]
        views = [
            station_view(
                sid, self._twin.get(sid), business.get(sid), self._twin.last_message_at(sid)
            )
            for sid in ids
        ]
        return Page(views, ids[-1] if more and ids else None)

    async def command(self, command_id: str) -> CommandView | None:
        """The command's view; for a key merged into another request, that request's view
        with ``requested_as``."""
        doc = await read_command(self._documents, command_id)
        if doc is None:
            return None
        into = doc.get("merged_into")
        if into is None:
            return command_view(doc)
        target = await read_command(self._documents, into)
        if target is None:
            return None
        return {**command_view(target), "requested_as": command_id}

    async def commands(
        self,
        limit: int,
        after: str | None = None,
        station_id: str | None = None,
        status: str | None = None,
        name: str | None = None,
    ) -> Page[CommandView]:
        """Command views newest first (by when they were requested), filtered."""

        def wanted(entry: JsonObject) -> bool:
            return (status is None or entry["status"] == status) and (
                name is None or entry["name"] == name
            )

        keep = None if status is None and name is None else wanted
        order = await scan(
            self._documents,
            COMMAND_ORDER,
            limit=limit,
            tag=station_id,
            after=after,
            descending=True,
            keep=keep,
        )
        views = []
        for entry in order.items:
            doc = await read_command(self._documents, entry["key"])
            if doc is not None:
                views.append(command_view(doc))
        return Page(views, order.next_after)

    async def station_known(self, station_id: str) -> bool:
        """Registered, seen, or with a history in the log: the log answers when the read
        models lag, as for a station that booted a moment ago on another node."""
        return (
            self._twin.get(station_id) is not None
            or await self._documents.get(STATIONS, station_id) is not None
            or await self._documents.get(REGISTRY, station_id) is not None
            or bool(await self._log.read_stream(stream_of(station_id), 1, 1))
        )

    async def transaction(self, transaction_id: int) -> TransactionView | None:
        doc = await read_transaction(self._documents, transaction_key(transaction_id))
        if doc is None:
            return None
        return await self._with_meters(doc)

    async def _with_meters(self, doc: TransactionDoc) -> TransactionView:
        view = transaction_view(doc)
        meters = await self._twin.meters(doc["station_id"], int(doc["transaction_id"]))
        if meters is not None:
            view["last_meter_value"] = meters["last"]
            view["meter_value_count"] = meters["count"]
            if meters.get("offline"):  # an Updated sent offline: telemetry, in the twin
                view["offline"] = True
        return view

    async def transactions(
        self,
        limit: int,
        after: str | None = None,
        station_id: str | None = None,
        id_tag: str | None = None,
        status: str | None = None,
    ) -> Page[TransactionView]:
        """Charging sessions in transaction order, filtered."""

        def wanted(doc: JsonObject) -> bool:
            return (id_tag is None or doc.get("id_tag") == id_tag) and (
                status is None or transaction_view(cast(TransactionDoc, doc))["status"] == status
            )

        keep = None if id_tag is None and status is None else wanted
        found = await scan(
            self._documents, TRANSACTIONS, limit=limit, tag=station_id, after=after, keep=keep
        )
        sessions = [cast(TransactionDoc, doc) for doc in found.items]
        return Page([await self._with_meters(doc) for doc in sessions], found.next_after)

    async def transaction_meter_values(self, transaction_id: int) -> MeterValuesView | None:
        """The session's readings over time (energy and power, thinned to a bounded
        number of points), for a chart; ``None`` when there is no such session."""
        doc = await read_transaction(self._documents, transaction_key(transaction_id))
        if doc is None:
            return None
        meters = await self._twin.meters(doc["station_id"], int(doc["transaction_id"]))
        return {
            "transaction_id": doc["transaction_id"],
            "station_id": doc["station_id"],
            "meter_start": doc.get("meter_start"),
            "points": meter_series(meters),
        }
