"""Bodies of ``POST /api/stations/{id}/commands/{name}``: each the OCPP 1.6 request
payload in snake_case (``v16/operations.py`` names each operation's). Types, enumerations
and lengths are checked here (a 422 naming the field); the rules that need the
station's state or more than one field (a charging profile's periods, a
reservation in the past) are the domain's.

Times are ISO-8601; one without a zone is taken as UTC, and every time is sent
as UTC. Every number and time is bounded: integers are JSON integers (``1.0``,
``true`` and ``"1"`` are refused) within OCPP's 32 bits, connector ids within what
the gateway accepts from stations, decimals finite and bounded, times between
1970 and 9000. The CSMS allocates reservation ids, and builds the local list from the
id-tag registry, so neither is in a body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from chargeledger.adapters.ocpp.schemas import MAX_CONNECTOR_ID, MAX_INTEGER, MIN_INTEGER
from chargeledger.adapters.ocpp.spec import CommandBody

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""Times outside these are typing mistakes, and near year 9999 arithmetic overflows."""

MAX_DECIMAL = 1e9
"""Far above any power (W) or current (A) a station takes, far below overflow."""


def _utc(moment: datetime) -> datetime:
    try:
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        utc = LATEST  # e.g. 9999-12-31T23:59:59-23:59 is past year 9999 in UTC
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"a time from {EARLIEST:%Y} to {LATEST:%Y}")
    return utc


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]
OcppInteger = Annotated[int, Strict(), Field(ge=MIN_INTEGER, le=MAX_INTEGER)]
ConnectorId = Annotated[int, Strict(), Field(ge=0, le=MAX_CONNECTOR_ID)]
BoundedDecimal = Annotated[float, Strict(), Field(ge=-MAX_DECIMAL, le=MAX_DECIMAL)]
WrittenDecimal = Annotated[int, Strict(), Field(ge=-MAX_DECIMAL, le=MAX_DECIMAL)] | BoundedDecimal
"""A decimal that keeps an integer an integer, so it reads back as it was written."""
IdToken = Annotated[str, StringConstraints(min_length=1, max_length=20)]
Purpose = Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ChargingSchedulePeriod(_Strict):
    start_period: OcppInteger = Field(
        description="seconds from the schedule's start; the first is 0"
    )
    # An integer stays one: a profile reads back as it was written (16, not 16.0).
    limit: WrittenDecimal = Field(
        description="positive, in the schedule's unit, one decimal at most"
    )
    number_phases: OcppInteger | None = None


class ChargingSchedule(_Strict):
    duration: OcppInteger | None = None
    start_schedule: UtcDateTime | None = None
    charging_rate_unit: Literal["W", "A"]
    charging_schedule_period: list[ChargingSchedulePeriod]
    min_charging_rate: WrittenDecimal | None = None


class ChargingProfile(_Strict):
    """OCPP 1.6 ``csChargingProfiles`` in snake_case."""

    charging_profile_id: OcppInteger | None = Field(
        default=None, description="required in a command; in a PUT it comes from the path"
    )
    transaction_id: OcppInteger | None = None
    stack_level: OcppInteger
    charging_profile_purpose: Purpose
    charging_profile_kind: Literal["Absolute", "Recurring", "Relative"]
    recurrency_kind: Literal["Daily", "Weekly"] | None = None
    valid_from: UtcDateTime | None = None
    valid_to: UtcDateTime | None = None
    charging_schedule: ChargingSchedule


def _one_profile(inline: object, stored_id: int | None, inline_name: str) -> None:
    if inline is not None and stored_id is not None:
        raise ValueError(f"send {inline_name} or charging_profile_id, not both")


class RemoteStartBody(CommandBody):
    connector_id: ConnectorId | None = Field(
        default=None, gt=0, description="leave out to let the station pick the connector"
    )
    id_tag: IdToken
    charging_profile: ChargingProfile | None = Field(
        default=None, description="a TxProfile for the session, inline"
    )
    charging_profile_id: OcppInteger | None = Field(default=None, description="a stored TxProfile")
    force: bool = Field(
        default=False,
        description="send it even though the id-tag registry refuses the tag (409 otherwise)",
    )

    @model_validator(mode="after")
    def _one(self) -> RemoteStartBody:
        _one_profile(self.charging_profile, self.charging_profile_id, "charging_profile")
        return self


class RemoteStopBody(CommandBody):
    transaction_id: OcppInteger


class UnlockConnectorBody(CommandBody):
    connector_id: ConnectorId = Field(gt=0)


class ResetBody(CommandBody):
    added_later = frozenset({"evse_id"})
    type: Literal["Soft", "Hard"] = Field(description="OCPP 2.0.1: Soft is OnIdle, Hard Immediate")
    evse_id: ConnectorId | None = Field(
        default=None,
        gt=0,
        description="OCPP 2.0.1 only: reset this EVSE alone; leave out for the whole station",
        json_schema_extra={"x-ocpp-versions": ["ocpp2.0.1"]},  # the console's 1.6 form omits it
    )


class ChangeAvailabilityBody(CommandBody):
    connector_id: ConnectorId = Field(ge=0, description="0 means the whole station")
    type: Literal["Operative", "Inoperative"]


class TriggerMessageBody(CommandBody):
    requested_message: Literal[
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
        "LogStatusNotification",
        "TransactionEvent",
        "SignChargingStationCertificate",
        "SignV2GCertificate",
        "SignCombinedCertificate",
        "PublishFirmwareStatusNotification",
    ] = Field(
        description="1.6 stations: the first six (LogStatusNotification is sent as "
        "DiagnosticsStatusNotification); 2.0.1 stations: all but "
        "DiagnosticsStatusNotification, which is sent as LogStatusNotification"
    )
    connector_id: ConnectorId | None = Field(default=None, ge=0)


class ClearCacheBody(CommandBody):
    pass


class GetConfigurationBody(CommandBody):
    key: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] | None = Field(
        default=None, description="the keys to report; leave out for every key"
    )


class ChangeConfigurationBody(CommandBody):
    key: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    value: Annotated[str, StringConstraints(max_length=500)]


class DataTransferBody(CommandBody):
    vendor_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    message_id: Annotated[str, StringConstraints(max_length=50)] | None = None
    data: str | None = None


class UpdateFirmwareBody(CommandBody):
    location: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    retrieve_date: UtcDateTime
    retries: OcppInteger | None = Field(default=None, ge=0)
    retry_interval: OcppInteger | None = Field(default=None, ge=0, description="seconds")


class GetDiagnosticsBody(CommandBody):
    location: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    retries: OcppInteger | None = Field(default=None, ge=0)
    retry_interval: OcppInteger | None = Field(default=None, ge=0, description="seconds")
    start_time: UtcDateTime | None = None
    stop_time: UtcDateTime | None = None


class GetLocalListVersionBody(CommandBody):
    pass


AuthorizationStatus = Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"]


class LocalListEntry(_Strict):
    id_tag: IdToken
    status: AuthorizationStatus | None = Field(
        default="Accepted", description="null removes the tag (a Differential update only)"
    )
    expiry: UtcDateTime | None = None
    parent_id_tag: IdToken | None = None


class SendLocalListBody(CommandBody):
    update_type: Literal["Full", "Differential"]
    list_version: OcppInteger | None = Field(
        default=None,
        ge=1,
        description="above the version the station holds; default: that version + 1",
    )
    entries: list[LocalListEntry] | None = Field(
        default=None,
        max_length=10_000,
        description="sent exactly as given; leave out (with list_name) for the whole "
        "id-tag registry",
    )
    list_name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="a named list of the CSMS (PUT /api/local-lists/{name})"
    )

    @model_validator(mode="after")
    def _one_source(self) -> SendLocalListBody:
        if self.entries is not None and self.list_name is not None:
            raise ValueError("send entries or list_name, not both")
        if self.entries is not None and len({e.id_tag for e in self.entries}) < len(self.entries):
            raise ValueError("each id_tag may appear once in entries")
        return self


class ReserveNowBody(CommandBody):
    connector_id: ConnectorId = Field(ge=0, description="0 reserves the station as a whole")
    expiry_date: UtcDateTime
    id_tag: IdToken
    parent_id_tag: IdToken | None = None


class CancelReservationBody(CommandBody):
    reservation_id: OcppInteger


class SetChargingProfileBody(CommandBody):
    connector_id: ConnectorId | None = Field(
        default=None, ge=0, description="required, unless transaction_id names the session"
    )
    cs_charging_profiles: ChargingProfile | None = None
    charging_profile_id: OcppInteger | None = Field(default=None, description="a stored profile")
    transaction_id: OcppInteger | None = Field(
        default=None,
        description="with charging_profile_id: apply that stored TxProfile to this running "
        "session (on its connector)",
    )

    @model_validator(mode="after")
    def _one(self) -> SetChargingProfileBody:
        _one_profile(self.cs_charging_profiles, self.charging_profile_id, "cs_charging_profiles")
        if self.cs_charging_profiles is None and self.charging_profile_id is None:
            raise ValueError("send cs_charging_profiles or charging_profile_id")
        if self.transaction_id is not None and self.charging_profile_id is None:
            raise ValueError("transaction_id goes with charging_profile_id (inline, set it inside)")
        if self.connector_id is None and self.transaction_id is None:
            raise ValueError("send connector_id (or transaction_id with charging_profile_id)")
        return self


class ClearChargingProfileBody(CommandBody):
    id: OcppInteger | None = None
    connector_id: ConnectorId | None = Field(default=None, ge=0)
    charging_profile_purpose: Purpose | None = None
    stack_level: OcppInteger | None = Field(default=None, ge=0)


class GetCompositeScheduleBody(CommandBody):
    connector_id: ConnectorId = Field(ge=0)
    duration: OcppInteger = Field(gt=0, description="seconds")
    charging_rate_unit: Literal["W", "A"] | None = None


def body_schemas(bodies: list[type[BaseModel]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each body's JSON schema, and the nested models they refer to (for components)."""
    schemas, nested = [], {}
    for body in bodies:
        schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
        nested.update(schema.pop("$defs", {}))
        schemas.append(schema)
    return schemas, nested
