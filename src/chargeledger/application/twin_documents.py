"""The station twin as a stored document and back: what ``TwinService`` writes in
batches and loads at start, every field checked on the way in (a document that does
not read is quarantined by the caller)."""

from __future__ import annotations

from dataclasses import asdict
from types import MappingProxyType
from typing import cast

from chargeledger.application.document_shapes import (
    ConnectorTwinDoc,
    MeterPointView,
    MetersDoc,
    TwinDoc,
)
from chargeledger.domain import station_reports as r
from chargeledger.domain import twin as t
from chargeledger.domain.enums import ConnectorStatus
from chargeledger.domain.json_object import JsonObject


def twin_to_doc(twin: t.StationTwin, last_message_at: str | None = None) -> TwinDoc:
    return {
        "station_id": twin.station_id,
        "connected": twin.connected,
        "last_heartbeat": twin.last_heartbeat,
        "connection_epoch": twin.connection_epoch,
        "connectors": {str(k): _connector_doc(v) for k, v in twin.connectors.items()},
        "diagnostics_status": twin.diagnostics_status,
        "firmware_status": twin.firmware_status,
        "reports": r.to_doc(twin.reports),
        "booted_at": twin.booted_at,
        "protocol": twin.protocol,
        "last_message_at": last_message_at,
    }


def _connector_doc(connector: t.ConnectorTwin) -> ConnectorTwinDoc:
    """A 1.6 connector is stored as before; a 2.0.1 EVSE adds its connectors."""
    doc = cast(ConnectorTwinDoc, asdict(connector))
    if not connector.evse_connectors:
        del doc["evse_connectors"]
    return doc


_CONNECTOR_FIELDS: dict[str, type] = {
    "status": ConnectorStatus,
    "error_code": str,
    "info": str,
    "vendor_error_code": str,
    "timestamp": str,
}


def twin_from_doc(doc: JsonObject) -> t.StationTwin:
    """A stored twin, checked: every key a plain connector id, every field its type
    (``doc`` as loaded: a ``TwinDoc`` once it passes)."""
    connectors: dict[int, t.ConnectorTwin] = {}
    for key, value in doc.get("connectors", {}).items():
        if not (isinstance(key, str) and key.isdigit() and isinstance(value, dict)):
            raise ValueError(f"connector {key!r} is not a connector id")
        pairs = value.get("evse_connectors") or ()
        value = {**value, "evse_connectors": tuple((int(c), ConnectorStatus(s)) for c, s in pairs)}
        if isinstance(value.get("status"), str):  # a spelling outside the set raises
            value["status"] = ConnectorStatus(value["status"])
        connector = t.ConnectorTwin(**value)
        for name, kind in _CONNECTOR_FIELDS.items():
            field_value = getattr(connector, name)
            if field_value is not None and type(field_value) is not kind:
                raise ValueError(f"connector {key}: {name} is not a {kind.__name__}")
        connectors[int(key)] = connector
    station_id = doc["station_id"]
    if not isinstance(station_id, str):
        raise ValueError("station_id is not text")
    return t.StationTwin(
        station_id=station_id,
        connected=bool(doc.get("connected")),
        last_heartbeat=doc.get("last_heartbeat"),
        connectors=MappingProxyType(connectors),
        connection_epoch=int(doc.get("connection_epoch", 0)),
        diagnostics_status=doc.get("diagnostics_status"),
        firmware_status=doc.get("firmware_status"),
        reports=r.from_doc(doc.get("reports")),
        booted_at=doc.get("booted_at"),
        protocol=doc.get("protocol"),
    )


def meter_series(meters: MetersDoc | None) -> list[MeterPointView]:
    """The chart points of a session's meter document, oldest first."""
    rows = (meters.get("series") if meters else None) or []
    return [
        {"at": row[0], "energy_wh": row[1], "power_w": row[2]}
        for row in rows
        if isinstance(row, list) and len(row) == 3
    ]
