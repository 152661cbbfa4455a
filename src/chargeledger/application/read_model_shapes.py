"""The shapes of the read models' documents and of the views made of them, as types.

A document is stored as JSON (``DocumentStore`` hands out plain dicts at that edge);
the application reads it as one of these ``TypedDict``s (``read_model_documents``'
``read_*`` functions), so a key misspelt in a projection or a query is a type error.
At run time they are plain dicts: typing one changes no byte on disk or on the wire.

Documents are ``total=False``: documents written by older versions may lack a key
(their readers fall back, e.g. ``attempts`` from ``attempt``); ``Required`` are the
fields the stores check on every read (``quarantine.SHAPES``). Views are total: each
names every field the API shows, ``None`` where there is nothing to show.
"""

from __future__ import annotations

from typing import Literal, NotRequired, Required, TypedDict

from chargeledger.domain.commands import RecordedStatus
from chargeledger.domain.enums import AuthorizationStatus, CommandStatus
from chargeledger.domain.json_object import JsonObject


class CommandDoc(TypedDict, total=False):
    """A command's read-model document (``COMMANDS``), by its command id."""

    command_id: str
    station_id: str
    name: str
    payload: JsonObject
    status: CommandStatus | Literal["merged"]
    """``merged``: a key merged into another request (``read_model_documents.MERGED``)."""
    detail: str
    result: JsonObject | None
    requested_at: str
    expires_at: str | None
    attempt: int
    attempts: int
    connection_epoch: int
    dispatched_at: str
    error_code: str | None
    error_description: str | None
    answered_at: str | None
    ended_at: str | None
    position: int
    requested_position: int
    merged_into: str
    merged_keys: list[str]


class CommandOrderDoc(TypedDict):
    """An entry of ``COMMAND_ORDER``: the command's key and what the list filters on."""

    key: str
    name: str | None
    status: str | None


class TransactionDoc(TypedDict, total=False):
    """A charging session's read-model document (``TRANSACTIONS``)."""

    transaction_id: Required[int]
    station_id: Required[str]
    connector_id: int
    id_tag: str
    id_tag_status: str | None
    status: RecordedStatus
    """``"unconfirmed"`` in documents of older versions."""
    meter_start: int
    started_at: str
    meter_stop: int | None
    stopped_at: str | None
    stop_reason: str | None
    energy_wh: int | None
    energy_anomaly: str | None
    last_meter_value: JsonObject | None
    meter_value_count: int
    reservation_id: int | None
    charging_profile_id: int | None
    remote_start_command_id: str | None
    abandoned_for: int | None
    unconfirmed: bool
    unconfirmed_reason: str | None
    close_reason: str | None
    position: int
    station_transaction_id: str
    """OCPP 2.0.1: the station's own id of the transaction."""
    offline: bool
    """OCPP 2.0.1: its Started or Ended (as recorded) was sent while offline."""


class StationDoc(TypedDict, total=False):
    """A station's business read-model document (``STATIONS``): its last boot."""

    id: Required[str]
    registration: str | None
    vendor: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    last_boot: str | None
    boot_reason: str
    """OCPP 2.0.1: why the station last booted."""
    version: int
    position: int


class ReservationDoc(TypedDict, total=False):
    """A reservation's read-model document (``RESERVATIONS``)."""

    reservation_id: int
    station_id: str
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry_date: str
    status: str
    """A ``ReservationStatus``, or a reason its ``ReservationEnded`` carried outside that
    set (an old event's spelling stays as it was: ``serialization``)."""
    command_id: str
    changing_by: str | None
    transaction_id: int | None
    detail: str
    position: int


class LiveReservationDoc(TypedDict):
    """A reservation that may still expire (``LIVE_RESERVATIONS``): what the expiry
    sweep needs. Read defensively there: one bad document must not stop the rest."""

    station_id: str
    reservation_id: int
    expiry_date: str


class IdTagDoc(TypedDict):
    """A tag of the id-tag registry (``ID_TAGS``): its status and expiry as stored."""

    id_tag: str
    status: AuthorizationStatus
    """``domain.id_tags.STORED_STATUSES`` (``put`` checks it)."""
    expiry: str | None
    updated_at: str


class CommandView(TypedDict):
    """A command as the API shows it (``GET /api/commands/{id}``)."""

    command_id: str | None
    station_id: str | None
    name: str | None
    status: str | None
    detail: str | None
    result: JsonObject | None
    error_code: str | None
    error_description: str | None
    attempts: int
    requested_at: str | None
    dispatched_at: str | None
    answered_at: str | None
    ended_at: str | None
    expires_at: str | None
    merged_keys: list[str]
    position: int | None
    requested_as: NotRequired[str]
    """The key asked for, when it was merged into this (another) request."""


class TransactionView(TypedDict):
    """A charging session as the API shows it (``GET /api/transactions/{id}``)."""

    transaction_id: int
    station_id: str
    connector_id: int | None
    id_tag: str | None
    id_tag_status: str | None
    status: str | None
    meter_start: int | None
    started_at: str | None
    meter_stop: int | None
    stopped_at: str | None
    stop_reason: str | None
    energy_wh: int | None
    anomalies: list[str]
    energy_anomaly: str | None
    last_meter_value: JsonObject | None
    meter_value_count: int | None
    reservation_id: int | None
    charging_profile_id: int | None
    remote_start_command_id: str | None
    abandoned_for: int | None
    unconfirmed: bool
    unconfirmed_reason: str | None
    close_reason: str | None
    position: int | None
    station_transaction_id: NotRequired[str]
    """OCPP 2.0.1: the station's own id of the transaction."""
    offline: NotRequired[bool]
    """OCPP 2.0.1: a message of it (Started, Updated, Ended) was sent while offline."""


class ConnectorView(TypedDict):
    id: int
    status: str
    error_code: str


class StationView(TypedDict):
    """A station as the API shows it (``GET /api/stations/{id}``, CONTRACT.md's fields)."""

    id: str
    connected: bool
    protocol: str | None
    last_heartbeat: str | None
    last_message_at: str | None
    registration: str | None
    vendor: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    last_boot: str | None
    connectors: list[ConnectorView]
    version: int
    position: int
    boot_reason: NotRequired[str]
    """OCPP 2.0.1 stations: why the station last booted, and its EVSEs."""
    evses: NotRequired[list[JsonObject]]


class ReservationView(TypedDict):
    """A reservation as the API shows it (``GET /api/reservations/{id}``)."""

    reservation_id: int | None
    station_id: str | None
    connector_id: int | None
    id_tag: str | None
    parent_id_tag: str | None
    expiry_date: str | None
    status: str | None
    command_id: str | None
    changing_by: str | None
    transaction_id: int | None
    detail: str | None
    position: int | None


class ConfigurationView(TypedDict):
    """The configuration keys a station reported (GetConfiguration), each with its
    ``key``, ``value`` and ``readonly``."""

    keys: list[JsonObject]
    unknown_keys: list[str]
    reported_at: str | None


class ReportedStatus(TypedDict):
    """A firmware update's or diagnostics upload's last status, and its history."""

    status: str | None
    history: list[JsonObject]


class ReportsView(TypedDict):
    """What a station reported beyond status and heartbeats, newest last."""

    firmware_update: ReportedStatus
    diagnostics: ReportedStatus
    data_transfers: list[JsonObject]
    authorizations: list[JsonObject]
    status_history: list[JsonObject]
    device_model: NotRequired[list[JsonObject]]
    """OCPP 2.0.1 stations: the variables of their NotifyReports, and their notices."""
    notices: NotRequired[list[JsonObject]]


class ConnectorMeters(TypedDict):
    """The readings a connector sent outside a transaction: how many, and the last."""

    connector_id: int
    count: int
    last: JsonObject | None


class StationExtras(ReportsView):
    """What the station view shows beside CONTRACT.md's fields (``StationView``)."""

    configuration: ConfigurationView | None
    local_list: JsonObject | None
    charging_profiles: list[JsonObject]
    meter_values: list[ConnectorMeters]


class StationLocalListDoc(TypedDict):
    """What a station's local authorization list is, as far as we know (``LOCAL_LISTS``)."""

    station_id: str
    installed_version: int | None
    update_type: str | None
    entries_sent: int | None
    installed_by: str | None
    in_sync: bool
    out_of_sync_reason: str | None
    reported_version: int | None
    reported_at: str | None


class ConfigurationDoc(TypedDict):
    """The configuration keys a station reported (``CONFIGURATION``), by key."""

    station_id: str
    keys: dict[str, JsonObject]
    """Each key's ``value`` and ``readonly``, as the station reported them."""
    unknown_keys: list[str]
    reported_at: str | None


class InstalledProfileDoc(TypedDict):
    """A charging profile a station accepted, on its connector (``STATION_PROFILES``)."""

    connector_id: int
    profile: JsonObject
    """The profile as sent (snake_case), checked by the domain before it was."""
