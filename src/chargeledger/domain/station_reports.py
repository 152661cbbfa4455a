"""What a station tells us beyond its heartbeats and meter readings, kept in its twin:
the firmware and diagnostics statuses it notified, with their history; its last
DataTransfers and Authorize requests, with our answers; its connectors' last changes
of status (so the console can show a connector as it was). Telemetry, not business:
none of it touches a stream (I5).

Each history is bounded (the newest ``KEPT`` entries), so a chatty station keeps
its twin small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, TypedDict

from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.timestamps import instant

KEPT = 20
STATUSES_KEPT = 20
"""Connector status changes kept per station (a repeated status is not a change)."""
MAX_DATA = 1000
"""How much of a DataTransfer's ``data`` the twin keeps."""


@dataclass(frozen=True, slots=True)
class StatusReport:
    status: str
    at: str | None


@dataclass(frozen=True, slots=True)
class DataTransferReport:
    vendor_id: str
    message_id: str | None
    data: str | None
    answer: str
    at: str | None


@dataclass(frozen=True, slots=True)
class AuthorizeReport:
    id_tag: str
    status: str
    at: str | None


@dataclass(frozen=True, slots=True)
class VariableReport:
    """One variable of an OCPP 2.0.1 station's device model (NotifyReport): ``key`` is
    ``Component/Variable`` (``[instance]`` and ``@evse`` added where the report says)."""

    key: str
    value: str | None
    readonly: bool
    at: str | None


NoticeKind = Literal["event", "security", "charging-profile", "charging-limit"]


@dataclass(frozen=True, slots=True)
class NoticeReport:
    """An OCPP 2.0.1 station's notice: a NotifyEvent's event (``event``), a security
    event (``security``), a profile it reported (``charging-profile``), a limit set or
    cleared from outside the CSMS (``charging-limit``). ``kind`` says which, ``what``
    what happened, ``at`` when by the station's clock."""

    kind: NoticeKind
    what: str
    at: str | None


@dataclass(frozen=True, slots=True)
class ConnectorStatusReport:
    connector_id: int
    status: str
    error_code: str
    at: str | None
    """When we received it (our clock, as the log's recorded_at)."""


@dataclass(frozen=True, slots=True)
class StationReports:
    firmware: tuple[StatusReport, ...] = ()
    diagnostics: tuple[StatusReport, ...] = ()
    data_transfers: tuple[DataTransferReport, ...] = ()
    authorizations: tuple[AuthorizeReport, ...] = ()
    device_model: tuple[VariableReport, ...] = ()
    notices: tuple[NoticeReport, ...] = ()
    statuses: tuple[ConnectorStatusReport, ...] = ()


NO_REPORTS = StationReports()


def _kept(history: tuple[Any, ...], entry: Any) -> tuple[Any, ...]:
    return (*history, entry)[-KEPT:]


def firmware_notified(reports: StationReports, status: str, at: str | None) -> StationReports:
    return replace(reports, firmware=_kept(reports.firmware, StatusReport(status, at)))


def diagnostics_notified(reports: StationReports, status: str, at: str | None) -> StationReports:
    return replace(reports, diagnostics=_kept(reports.diagnostics, StatusReport(status, at)))


def data_transferred(
    reports: StationReports,
    vendor_id: str,
    message_id: str | None,
    data: str | None,
    answer: str,
    at: str | None,
) -> StationReports:
    kept_data = None if data is None else data[:MAX_DATA]
    entry = DataTransferReport(vendor_id, message_id, kept_data, answer, at)
    return replace(reports, data_transfers=_kept(reports.data_transfers, entry))


def authorized(reports: StationReports, id_tag: str, status: str, at: str | None) -> StationReports:
    entry = AuthorizeReport(id_tag, status, at)
    return replace(reports, authorizations=_kept(reports.authorizations, entry))


MAX_VARIABLES = 1000
"""Variables of a device model the twin keeps (the last reported win)."""


def variables_reported(reports: StationReports, reported: list[VariableReport]) -> StationReports:
    """A NotifyReport's variables replace those of the same key; the model stays bounded."""
    kept = {entry.key: entry for entry in reports.device_model}
    for entry in reported:
        kept.pop(entry.key, None)
        kept[entry.key] = entry
    return replace(reports, device_model=tuple(kept.values())[-MAX_VARIABLES:])


def noticed(reports: StationReports, notices: list[NoticeReport]) -> StationReports:
    kept = reports.notices
    for notice in notices:
        kept = _kept(kept, replace(notice, what=notice.what[:MAX_DATA]))
    return replace(reports, notices=kept)


def status_notified(
    reports: StationReports, connector_id: int, status: str, error_code: str, at: str | None
) -> StationReports:
    """A connector's status, kept when it differs from that connector's last one."""
    last = next((s for s in reversed(reports.statuses) if s.connector_id == connector_id), None)
    if last is not None and (last.status, last.error_code) == (status, error_code):
        return reports
    entry = ConnectorStatusReport(connector_id, status, error_code, at)
    return replace(reports, statuses=(*reports.statuses, entry)[-STATUSES_KEPT:])


class ConnectorStatusAt(TypedDict):
    connector_id: int
    status: str
    error_code: str
    since: str | None


class StatusesAt(TypedDict):
    """The connector statuses a station had reported by a time (``statuses_at``)."""

    connectors: list[ConnectorStatusAt]
    kept_from: str | None


def statuses_at(reports: StationReports, at: datetime) -> StatusesAt:
    """Each connector's last reported status at or before ``at``, as far as the kept
    changes tell: ``connectors`` lists those known then (with ``since``); ``kept_from``
    is the oldest kept change's time (earlier moments may have had other statuses)."""
    known: dict[int, ConnectorStatusReport] = {}
    for report in reports.statuses:
        if report.at is not None and instant(report.at) <= at:
            known[report.connector_id] = report
    return {
        "connectors": [
            {
                "connector_id": report.connector_id,
                "status": report.status,
                "error_code": report.error_code,
                "since": report.at,
            }
            for _, report in sorted(known.items())
        ],
        "kept_from": reports.statuses[0].at if reports.statuses else None,
    }


def to_doc(reports: StationReports) -> JsonObject:
    """The reports as the twin's document stores them (and the station view shows them)."""

    def rows(entries: tuple[Any, ...]) -> list[JsonObject]:
        return [
            {name: getattr(entry, name) for name in entry.__slots__}  # slots: no __dict__
            for entry in entries
        ]

    return {
        "firmware": rows(reports.firmware),
        "diagnostics": rows(reports.diagnostics),
        "data_transfers": rows(reports.data_transfers),
        "authorizations": rows(reports.authorizations),
        # only a 2.0.1 station reports one; 1.6 stations' documents stay as they were
        **({"device_model": rows(reports.device_model)} if reports.device_model else {}),
        **({"notices": rows(reports.notices)} if reports.notices else {}),
        "statuses": rows(reports.statuses),
    }


def from_doc(doc: Mapping[str, Any] | None) -> StationReports:
    if not doc:
        return NO_REPORTS
    return StationReports(
        firmware=tuple(StatusReport(**row) for row in doc.get("firmware", ())),
        diagnostics=tuple(StatusReport(**row) for row in doc.get("diagnostics", ())),
        data_transfers=tuple(DataTransferReport(**row) for row in doc.get("data_transfers", ())),
        authorizations=tuple(AuthorizeReport(**row) for row in doc.get("authorizations", ())),
        device_model=tuple(VariableReport(**row) for row in doc.get("device_model", ())),
        notices=tuple(NoticeReport(**row) for row in doc.get("notices", ())),
        statuses=tuple(ConnectorStatusReport(**row) for row in doc.get("statuses", ())),
    )
