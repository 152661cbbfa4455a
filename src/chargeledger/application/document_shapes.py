"""The shapes of the documents beside the business read models, as types: the twin's
meter readings, the station registry, named local lists, the stored charging profiles,
the quarantine's report, a command crossing to another node, and the past as replayed.
The business read models' shapes are ``read_model_shapes``; like those, these are plain
dicts at run time (typing one changes no byte on disk or on the wire).

What stays ``JsonObject`` inside them is a JSON document someone else shapes: a
``MeterValue`` as the station sent it, a charging profile as the operator wrote it.
"""

from __future__ import annotations

from typing import Any, NotRequired, Required, TypedDict

from chargeledger.domain.json_object import JsonObject


class MetersDoc(TypedDict, total=False):
    """A meter document (``METERS``): the readings of one session, or of one connector
    outside a session, as the twin keeps them."""

    station_id: Required[str]
    connector_id: Required[int]
    transaction_id: Required[int | None]
    count: Required[int]
    last: Required[JsonObject | None]
    """The last ``MeterValue``, as the station sent it."""
    seq_nos: list[int]
    """OCPP 2.0.1: the ``seqNo``s of the messages taken (the newest 1,000)."""
    offline: bool
    """OCPP 2.0.1: some readings came in a message the station sent while offline."""
    series: list[list[Any]]
    """A session's chart: ``[at, energy_wh, power_w]`` rows as stored (``meter_series``
    reads only rows of three)."""
    writers: dict[str, int]
    """Per node process that merged readings in, the number of its last merge
    (``meter_documents``): a retried merge is not counted twice."""


class MeterPointView(TypedDict):
    """One point of a session's chart, as the API shows it."""

    at: str
    energy_wh: float | None
    power_w: float | None


class RegistryDoc(TypedDict):
    """A registered station (``REGISTRY``); ``password_hash`` ``None``: no password."""

    station_id: str
    password_hash: str | None
    added_at: str


class RegistryView(TypedDict):
    """A registered station as the API shows it: never its password's hash."""

    id: str
    has_password: bool


class LocalListEntryDoc(TypedDict, total=False):
    """An entry of a named local list, as the API takes it (``status`` ``None``: the
    tag is to be removed from the stations' lists)."""

    id_tag: Required[str]
    status: str | None
    expiry: str | None
    parent_id_tag: str | None


class NamedLocalListDoc(TypedDict):
    """A named local list (``named_local_list``)."""

    name: str
    entries: list[LocalListEntryDoc]
    updated_at: str


class StoredProfileDoc(TypedDict):
    """A stored charging profile (``charging_profile``): the profile as the operator
    wrote it (checked, snake_case), and the operator's own name and description."""

    profile: JsonObject
    name: str | None
    description: str | None
    updated_at: str


class QuarantineView(TypedDict):
    """A quarantined document, as ``/api/health`` and the quarantine's copy name it."""

    model: str
    key: str
    reason: str


class RoutedCommandView(TypedDict):
    """An open command as it crosses to the node that holds its station."""

    command_id: str
    station_id: str
    name: str
    payload: JsonObject
    status: str
    expires_at: str
    position: int
    attempt: int


class EventView(TypedDict):
    """A recorded event as the events API and its stream show it."""

    position: int
    version: int
    type: str
    data: JsonObject
    """The event's fields, as ``dataclasses.asdict`` gives them."""
    recorded_at: str | None
    command_id: str | None


class OpenCommandAsOf(TypedDict):
    command_id: str
    name: str
    status: str


class OpenTransactionAsOf(TypedDict):
    transaction_id: int
    connector_id: int
    id_tag: str


class ReservationAsOf(TypedDict):
    reservation_id: int
    connector_id: int
    id_tag: str


class StationAsOf(TypedDict):
    """A station's business state as the log had it at ``at`` (``history``)."""

    id: str
    at: str
    registration: str | None
    version: int
    position: int
    open_commands: list[OpenCommandAsOf]
    open_transactions: list[OpenTransactionAsOf]
    reservations: list[ReservationAsOf]


class MeterValuesView(TypedDict):
    """A session's readings over time, for a chart (``/api/transactions/{id}/meter-values``)."""

    transaction_id: int
    station_id: str
    meter_start: int | None
    points: list[MeterPointView]


class ConnectorTwinDoc(TypedDict):
    """A connector of a stored twin (a 2.0.1 EVSE adds ``evse_connectors``)."""

    status: str
    error_code: str
    info: str | None
    vendor_error_code: str | None
    timestamp: str | None
    received_at: str | None
    evse_connectors: NotRequired[list[tuple[int, str]]]


class TwinDoc(TypedDict):
    """A station's twin as stored (``TWINS``), by ``twin_documents``."""

    station_id: str
    connected: bool
    last_heartbeat: str | None
    connection_epoch: int
    connectors: dict[str, ConnectorTwinDoc]
    """By connector id, as text (JSON's keys)."""
    diagnostics_status: str | None
    firmware_status: str | None
    reports: JsonObject
    """``station_reports.to_doc``: the reports' rows, as stored."""
    booted_at: str | None
    protocol: str | None
    last_message_at: str | None
