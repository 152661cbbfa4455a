"""Read side of what a station holds (``holdings_projection``): reservations, what the
station view adds (configuration keys, the local list, installed charging profiles, and
from the twin the firmware and diagnostics statuses with their history, DataTransfers,
Authorizes and readings outside a transaction), stored charging profiles, and a
station's event history."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from chargeledger.application.charging_profile_library import (
    CHARGING_PROFILES,
    ChargingProfileLibrary,
)
from chargeledger.application.document_shapes import EventView, StoredProfileDoc
from chargeledger.application.holdings_projection import (
    CONFIGURATION,
    LOCAL_LISTS,
    RESERVATIONS,
    STATION_PROFILES,
    reservation_key,
)
from chargeledger.application.paging import Page, scan
from chargeledger.application.ports import DocumentStore, RecordedEvent
from chargeledger.application.read_model_shapes import (
    ConfigurationView,
    ConnectorMeters,
    ReportsView,
    ReservationDoc,
    ReservationView,
    StationExtras,
)
from chargeledger.application.twin_service import TwinService
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.station_reports import NO_REPORTS, StatusesAt, statuses_at, to_doc
from chargeledger.domain.twin import StationTwin


def reservation_view(doc: ReservationDoc) -> ReservationView:
    """``status``: requested, active, then rejected, failed, cancelled, used or expired."""
    return {
        "reservation_id": doc.get("reservation_id"),
        "station_id": doc.get("station_id"),
        "connector_id": doc.get("connector_id"),
        "id_tag": doc.get("id_tag"),
        "parent_id_tag": doc.get("parent_id_tag"),
        "expiry_date": doc.get("expiry_date"),
        "status": doc.get("status"),
        "command_id": doc.get("command_id"),
        "changing_by": doc.get("changing_by"),
        "transaction_id": doc.get("transaction_id"),
        "detail": doc.get("detail"),
        "position": doc.get("position"),
    }


def configuration_view(doc: Mapping[str, Any] | None) -> ConfigurationView | None:
    if doc is None:
        return None
    keys = [{"key": key, **entry} for key, entry in sorted(doc["keys"].items())]
    return {"keys": keys, "unknown_keys": doc["unknown_keys"], "reported_at": doc["reported_at"]}


def stored_profile_view(doc: StoredProfileDoc) -> JsonObject:
    """The profile as written, with the operator's name and description; what it reads
    can be written back unchanged (``updated_at`` is ignored there). A ``JsonObject``:
    the profile's fields are the operator's JSON, flattened beside the three."""
    return {
        **doc["profile"],
        "name": doc.get("name"),
        "description": doc.get("description"),
        "updated_at": doc["updated_at"],
    }


def event_view(recorded: RecordedEvent) -> EventView:
    return {
        "position": recorded.position,
        "version": recorded.version,
        "type": type(recorded.event).__name__,
        "data": dataclasses.asdict(recorded.event),
        "recorded_at": recorded.metadata.recorded_at,
        "command_id": recorded.metadata.command_id,
    }


def reports_view(twin: StationTwin | None) -> ReportsView:
    """What the station reported beyond status and heartbeats, newest last."""
    reports = twin.reports if twin else NO_REPORTS
    shown = to_doc(reports)
    # "firmware" is the version the station booted with (CONTRACT.md); its updates:
    view: ReportsView = {
        "firmware_update": {
            "status": twin.firmware_status if twin else None,
            "history": shown["firmware"],
        },
        "diagnostics": {
            "status": twin.diagnostics_status if twin else None,
            "history": shown["diagnostics"],
        },
        "data_transfers": shown["data_transfers"],
        "authorizations": shown["authorizations"],
        "status_history": shown["statuses"],
    }
    if "device_model" in shown:  # OCPP 2.0.1 stations
        view["device_model"] = shown["device_model"]
    if "notices" in shown:
        view["notices"] = shown["notices"]
    return view


class OperationViews:
    def __init__(
        self,
        documents: DocumentStore,
        profiles: ChargingProfileLibrary,
        twin: TwinService,
    ) -> None:
        self._documents = documents
        self._profiles = profiles
        self._twin = twin

    async def reservations(
        self, limit: int, after: str | None = None, station_id: str | None = None
    ) -> Page[ReservationView]:
        """Reservations in id order, of one station when given."""
        found = await scan(self._documents, RESERVATIONS, limit=limit, tag=station_id, after=after)
        views = [reservation_view(cast(ReservationDoc, doc)) for doc in found.items]
        return Page(views, found.next_after)

    async def reservation(self, reservation_id: int) -> ReservationView | None:
        doc = await self._documents.get(RESERVATIONS, reservation_key(reservation_id))
        return None if doc is None else reservation_view(cast(ReservationDoc, doc))

    async def station_extras(self, station_id: str) -> StationExtras:
        """What the station view shows beside CONTRACT.md's fields."""
        configuration = await self._documents.get(CONFIGURATION, station_id)
        local_list = await self._documents.get(LOCAL_LISTS, station_id)
        installed = await self._documents.get(STATION_PROFILES, station_id)
        if local_list is not None:
            local_list = {k: v for k, v in local_list.items() if k != "station_id"}
        twin = self._twin.get(station_id)
        return {
            "configuration": configuration_view(configuration),
            "local_list": local_list,
            "charging_profiles": installed["profiles"] if installed else [],
            **reports_view(twin),
            "meter_values": await self._outside_transactions(station_id, twin),
        }

    async def _outside_transactions(
        self, station_id: str, twin: StationTwin | None
    ) -> list[ConnectorMeters]:
        """Per connector, the readings sent outside a transaction: count and last."""
        if twin is None:
            return []
        shown: list[ConnectorMeters] = []
        for connector_id in twin.connectors:
            meters = await self._twin.connector_meters(station_id, connector_id)
            if meters is not None:
                shown.append(
                    {"connector_id": connector_id, "count": meters["count"], "last": meters["last"]}
                )
        return shown

    def connectors_as_of(self, station_id: str, at: datetime) -> StatusesAt:
        """The connector statuses the station had reported by ``at``, as far back as
        its twin keeps their changes (telemetry: not in the log)."""
        twin = self._twin.get(station_id)
        return statuses_at(twin.reports if twin else NO_REPORTS, at)

    async def stored_profiles(self, limit: int, after: str | None = None) -> Page[JsonObject]:
        found = await scan(self._documents, CHARGING_PROFILES, limit=limit, after=after)
        views = [stored_profile_view(cast(StoredProfileDoc, doc)) for doc in found.items]
        return Page(views, found.next_after)

    async def stored_profile(self, profile_id: int) -> JsonObject | None:
        doc = await self._profiles.get(profile_id)
        return None if doc is None else stored_profile_view(doc)
