"""What a station holds as far as the CSMS knows: read models built from the operations'
answers, beside the command views (``CommandAndStationProjection`` calls ``writes_for``
with the batch's commands):

- reservations, one per reservation id (tagged with the station), and the live ones
  apart so the expiry sweep reads only those;
- per station: the configuration keys the station reported (GetConfiguration
  answers, accepted ChangeConfigurations, NotSupported keys), the local
  authorization list we installed and the version the station reported, and the
  charging profiles installed as far as we know (SetChargingProfile,
  ClearChargingProfile and remote starts the station accepted; a TxProfile goes
  when its connector's session ends).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from chargeledger.application.ports import DocumentStore, DocumentWrite, RecordedEvent
from chargeledger.application.read_model_shapes import (
    CommandDoc,
    ConfigurationDoc,
    InstalledProfileDoc,
    LiveReservationDoc,
    ReservationDoc,
    StationLocalListDoc,
)
from chargeledger.domain import events as e
from chargeledger.domain import operations as o
from chargeledger.domain.enums import LIVE_RESERVATION_STATUSES, ReservationStatus
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.operations import OPERATIONS

RESERVATIONS = "reservation"
LIVE_RESERVATIONS = "reservation_live"
CONFIGURATION = "configuration"
LOCAL_LISTS = "local_list"
STATION_PROFILES = "station_profiles"


def reservation_key(reservation_id: int) -> str:
    return f"{reservation_id:012d}"


def station_of(recorded: RecordedEvent) -> str:
    return recorded.stream_id.removeprefix("station-")


class _Batch:
    """The documents a batch touches, read once and written once."""

    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents
        self.docs: dict[tuple[str, str], JsonObject | None] = {}
        self.tags: dict[tuple[str, str], str | None] = {}

    async def get(self, model: str, key: str) -> JsonObject | None:
        if (model, key) not in self.docs:
            self.docs[(model, key)] = await self._documents.get(model, key)
        return self.docs[(model, key)]

    def put(
        self, model: str, key: str, doc: Mapping[str, Any] | None, tag: str | None = None
    ) -> None:
        self.docs[(model, key)] = None if doc is None else cast(JsonObject, doc)
        self.tags[(model, key)] = tag

    def writes(self) -> list[DocumentWrite]:
        return [
            DocumentWrite(model, key, doc, self.tags[(model, key)])
            for (model, key), doc in self.docs.items()
            if (model, key) in self.tags
        ]


class OperationsProjection:
    models: tuple[str, ...] = (
        RESERVATIONS,
        LIVE_RESERVATIONS,
        CONFIGURATION,
        LOCAL_LISTS,
        STATION_PROFILES,
    )

    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents

    async def writes_for(
        self, batch: Sequence[RecordedEvent], commands: Mapping[str, CommandDoc]
    ) -> list[DocumentWrite]:
        """The read-model changes of ``batch``; ``commands``: its command views."""
        touched = _Batch(self._documents)
        for recorded in batch:
            event = recorded.event
            if isinstance(event, (e.ReserveNowRequested, *e.RESERVATION_EVENTS)):
                await _reservation(touched, recorded)
            elif isinstance(event, e.LOCAL_LIST_EVENTS):
                await _local_list(touched, recorded)
            elif isinstance(event, e.CommandAccepted | e.CommandRejected):
                command = commands.get(event.command_id)
                if command is not None:
                    await _answered(touched, recorded, command, event)
            elif isinstance(event, e.TransactionStopped | e.TransactionAbandoned):
                await _session_ended(touched, station_of(recorded), event.connector_id)
        return touched.writes()


# --- reservations ------------------------------------------------------------------


async def _reservation(touched: _Batch, recorded: RecordedEvent) -> None:
    event = recorded.event
    key = reservation_key(getattr(event, "reservation_id"))  # noqa: B009
    station_id = station_of(recorded)
    doc = cast("ReservationDoc | None", await touched.get(RESERVATIONS, key))
    if isinstance(event, e.ReserveNowRequested) and not (event.replaces and doc):
        doc = {
            "reservation_id": event.reservation_id,
            "station_id": station_id,
            "connector_id": event.connector_id,
            "id_tag": event.id_tag,
            "parent_id_tag": event.parent_id_tag,
            "expiry_date": event.expiry_date,
            "status": ReservationStatus.REQUESTED,
            "command_id": event.command_id,
            "changing_by": None,
            "transaction_id": None,
            "detail": "",
        }
    elif doc is None:
        return
    elif isinstance(event, e.ReserveNowRequested):
        doc = {**doc, "changing_by": event.command_id}
    elif isinstance(event, e.ReservationConfirmed):
        doc = {
            **doc,
            "status": ReservationStatus.ACTIVE,
            "connector_id": event.connector_id,
            "expiry_date": event.expiry_date,
            "command_id": event.confirmed_by,
            "changing_by": None,
        }
    elif isinstance(event, e.ReservationChangeRefused):
        doc = {**doc, "changing_by": None, "detail": f"change {event.refused_by} refused"}
    elif isinstance(event, e.ReservationEnded):
        doc = {
            **doc,
            "status": event.reason,
            "transaction_id": event.transaction_id,
            "detail": event.detail,
            "changing_by": None,
        }
    doc["position"] = recorded.position
    touched.put(RESERVATIONS, key, doc, station_id)
    live: LiveReservationDoc | None = None
    if doc["status"] in LIVE_RESERVATION_STATUSES:
        live = {
            "station_id": station_id,
            "reservation_id": doc["reservation_id"],
            "expiry_date": doc["expiry_date"],
        }
    touched.put(LIVE_RESERVATIONS, key, live)


# --- the local list ------------------------------------------------------------------


def _empty_local_list(station_id: str) -> StationLocalListDoc:
    return {
        "station_id": station_id,
        "installed_version": None,
        "update_type": None,
        "entries_sent": None,
        "installed_by": None,
        "in_sync": False,
        "out_of_sync_reason": "no list installed by us yet",
        "reported_version": None,
        "reported_at": None,
    }


async def _local_list(touched: _Batch, recorded: RecordedEvent) -> None:
    station_id = station_of(recorded)
    doc = dict(await touched.get(LOCAL_LISTS, station_id) or _empty_local_list(station_id))
    event = recorded.event
    if isinstance(event, e.LocalListInstalled):
        doc.update(
            installed_version=event.list_version,
            update_type=event.update_type,
            entries_sent=len(event.local_authorization_list),
            installed_by=event.installed_by,
            installed_at=recorded.metadata.recorded_at,
            in_sync=True,
            out_of_sync_reason=None,
        )
    elif isinstance(event, e.LocalListOutOfSync):
        doc.update(in_sync=False, out_of_sync_reason=event.reason)
    touched.put(LOCAL_LISTS, station_id, doc)


async def _reported_version(
    touched: _Batch, recorded: RecordedEvent, result: Mapping[str, Any]
) -> None:
    station_id = station_of(recorded)
    doc = dict(await touched.get(LOCAL_LISTS, station_id) or _empty_local_list(station_id))
    doc.update(
        reported_version=result.get("listVersion", result.get("versionNumber")),  # 1.6, 2.0.1
        reported_at=recorded.metadata.recorded_at,
    )
    touched.put(LOCAL_LISTS, station_id, doc)


# --- answers: configuration, local list version, charging profiles -------------------


async def _answered(
    touched: _Batch,
    recorded: RecordedEvent,
    command: CommandDoc,
    event: e.CommandAccepted | e.CommandRejected,
) -> None:
    accepted = isinstance(event, e.CommandAccepted)
    name, payload, result = command["name"], command["payload"], event.result
    profile_field = OPERATIONS[name].profile_field
    if name == o.GET_CONFIGURATION.name and accepted and "status" not in result:
        # (asked for every key, a 2.0.1 station answers GetBaseReport's status: its keys
        # come by NotifyReport, into the twin's device model, and leave these as they are)
        await _configuration_reported(touched, recorded, payload, result)
    elif name == o.CHANGE_CONFIGURATION.name:
        await _configuration_changed(touched, recorded, payload, result)
    elif name == o.SET_VARIABLES.name:
        for setting in payload["variables"]:  # each variable as its own change
            answer = {"setVariableResult": _results_of(result, setting["key"])}
            await _configuration_changed(touched, recorded, setting, answer)
    elif name == o.GET_LOCAL_LIST_VERSION.name and accepted:
        await _reported_version(touched, recorded, result)
    elif profile_field is not None and accepted and payload.get(profile_field):
        # a profile sent with the command (set-charging-profile, a remote start's)
        await _profile_set(touched, recorded, payload["connector_id"], payload[profile_field])
    elif name == o.CLEAR_CHARGING_PROFILE.name and accepted:
        await _profiles_cleared(touched, station_of(recorded), payload)


def _empty_configuration(station_id: str) -> ConfigurationDoc:
    return {"station_id": station_id, "keys": {}, "unknown_keys": [], "reported_at": None}


async def _configuration_reported(
    touched: _Batch, recorded: RecordedEvent, payload: Mapping[str, Any], result: Mapping[str, Any]
) -> None:
    station_id = station_of(recorded)
    doc = dict(await touched.get(CONFIGURATION, station_id) or _empty_configuration(station_id))
    keys = {} if payload.get("key") is None else dict(doc["keys"])
    for entry in result.get("configurationKey") or []:
        keys[entry["key"]] = {"value": entry.get("value"), "readonly": bool(entry["readonly"])}
    not_known = set(result.get("unknownKey") or [])
    for entry in result.get("getVariableResult") or []:  # OCPP 2.0.1's GetVariables
        key = variable_key(entry)
        if entry.get("attributeStatus") == "Accepted":
            keys[key] = {"value": entry.get("attributeValue"), "readonly": False}
        elif entry.get("attributeStatus") in UNKNOWN_VARIABLE:
            not_known.add(key)
    unknown = set(doc["unknown_keys"]) - set(keys) | not_known
    doc.update(keys=keys, unknown_keys=sorted(unknown), reported_at=recorded.metadata.recorded_at)
    touched.put(CONFIGURATION, station_id, doc)


async def _configuration_changed(
    touched: _Batch, recorded: RecordedEvent, payload: Mapping[str, Any], result: Mapping[str, Any]
) -> None:
    status = result.get("status") or _set_variable_status(result)
    if status not in ("Accepted", "RebootRequired", "NotSupported"):
        return
    station_id = station_of(recorded)
    doc = dict(await touched.get(CONFIGURATION, station_id) or _empty_configuration(station_id))
    key = payload["key"]
    if status == "NotSupported":
        doc["unknown_keys"] = sorted({*doc["unknown_keys"], key})
    else:
        keys = dict(doc["keys"])
        keys[key] = {"value": payload["value"], "readonly": False}
        if status == "RebootRequired":
            keys[key]["reboot_required"] = True
        doc["keys"] = keys
        doc["unknown_keys"] = [k for k in doc["unknown_keys"] if k != key]
    touched.put(CONFIGURATION, station_id, doc)


UNKNOWN_VARIABLE = frozenset({"UnknownComponent", "UnknownVariable"})
"""OCPP 2.0.1's way of saying what 1.6 says by ``unknownKey`` or ``NotSupported``."""


def variable_key(entry: Mapping[str, Any]) -> str:
    """A 2.0.1 component and variable as the configuration key they are shown under."""
    component = (entry.get("component") or {}).get("name", "")
    return f"{component}/{(entry.get('variable') or {}).get('name', '')}"


def _results_of(result: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The SetVariables results for ``key`` (a set-variables answer has one per key)."""
    return [r for r in result.get("setVariableResult") or [] if variable_key(r) == key]


def _set_variable_status(result: Mapping[str, Any]) -> str | None:
    """A 2.0.1 SetVariables answer's status, as 1.6's ChangeConfiguration says it."""
    results = result.get("setVariableResult") or []
    status = results[0].get("attributeStatus") if results else None
    return "NotSupported" if status in UNKNOWN_VARIABLE else status


def _replaces(installed: Mapping[str, Any], connector_id: int, profile: Mapping[str, Any]) -> bool:
    """OCPP 1.6: a profile replaces one with its id, or on its connector with its
    purpose and stack level."""
    old = installed["profile"]
    same_place = (
        installed["connector_id"] == connector_id
        and old["charging_profile_purpose"] == profile["charging_profile_purpose"]
        and old["stack_level"] == profile["stack_level"]
    )
    return bool(old["charging_profile_id"] == profile["charging_profile_id"] or same_place)


async def _profiles(touched: _Batch, station_id: str) -> list[InstalledProfileDoc]:
    doc = await touched.get(STATION_PROFILES, station_id)
    return cast("list[InstalledProfileDoc]", list(doc["profiles"])) if doc else []


async def _profile_set(
    touched: _Batch, recorded: RecordedEvent, connector_id: int, profile: Mapping[str, Any]
) -> None:
    station_id = station_of(recorded)
    kept = [
        p for p in await _profiles(touched, station_id) if not _replaces(p, connector_id, profile)
    ]
    kept.append({"connector_id": connector_id, "profile": dict(profile)})
    kept.sort(key=lambda p: (p["connector_id"], p["profile"]["charging_profile_id"]))
    touched.put(STATION_PROFILES, station_id, {"station_id": station_id, "profiles": kept})


def _cleared_by(installed: Mapping[str, Any], criteria: Mapping[str, Any]) -> bool:
    profile = installed["profile"]
    if criteria.get("id") is not None:
        return bool(profile["charging_profile_id"] == criteria["id"])
    checks = (
        ("connector_id", installed["connector_id"]),
        ("charging_profile_purpose", profile["charging_profile_purpose"]),
        ("stack_level", profile["stack_level"]),
    )
    return all(criteria.get(name) in (None, value) for name, value in checks)


async def _profiles_cleared(touched: _Batch, station_id: str, criteria: Mapping[str, Any]) -> None:
    installed = await _profiles(touched, station_id)
    kept = [p for p in installed if not _cleared_by(p, criteria)]
    if len(kept) != len(installed):
        touched.put(STATION_PROFILES, station_id, {"station_id": station_id, "profiles": kept})


async def _session_ended(touched: _Batch, station_id: str, connector_id: int) -> None:
    installed = await _profiles(touched, station_id)
    kept = [
        p
        for p in installed
        if not (
            p["connector_id"] == connector_id
            and p["profile"]["charging_profile_purpose"] == "TxProfile"
        )
    ]
    if len(kept) != len(installed):
        touched.put(STATION_PROFILES, station_id, {"station_id": station_id, "profiles": kept})
