"""Operator use cases: decide a station command and answer with its command view.

The twin is consulted here, before deciding: its snapshot rides on the command
into the pure remote-start rule (a Faulted or Unavailable connector refuses).
What else a command needs beyond its body is looked up by ``OperationInputs``
before deciding, so that the decision stays a pure function of the command. Each
operation's spec says what it needs (``Operation.profile_field``,
``Operation.lookups``); here is how each ``Lookup`` is looked up:

- a charging profile named by ``charging_profile_id`` (an operation with a
  ``profile_field``) comes from the stored profiles, and rides on the command whole
  (set-charging-profile's ``transaction_id`` applies a stored TxProfile to a session);
- ``ID_TAG_STATUS``: the registry's verdict on the id tag (or none for a tag it does
  not hold);
- ``RESERVATION_ID``: a reservation id from a sequence (unique across the system);
- ``LOCAL_LIST``: the id-tag registry, each tag with the verdict it has now (or the
  entries given, or those of a named list of the CSMS);
- ``CONFIGURATION``: what the station reported of its keys;
- ``RECORDED_TRANSACTION``: what the CSMS recorded of the transaction (where it ran,
  how it ended), or nothing for an id it has never heard of.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from chargeledger.application.charging_profile_library import ChargingProfileLibrary
from chargeledger.application.command_flights import CommandResult
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.command_secrets import CommandSecrets, seal
from chargeledger.application.holdings_projection import CONFIGURATION
from chargeledger.application.id_tags import IdTagRegistry, record_of
from chargeledger.application.local_lists import NamedLocalLists, as_sent
from chargeledger.application.ports import Clock, DocumentStore, StationProtocol
from chargeledger.application.queries import command_view
from chargeledger.application.read_model_documents import (
    read_command,
    read_transaction,
    transaction_key,
)
from chargeledger.application.read_model_shapes import CommandView
from chargeledger.application.twin_service import TwinService
from chargeledger.domain.commands import RecordedStatus, RecordedTransaction
from chargeledger.domain.configuration import NO_CONFIGURATION, ConfigurationSnapshot
from chargeledger.domain.enums import OPEN_STATUSES, CommandStatus, TransactionStatus
from chargeledger.domain.errors import (
    DomainError,
    IdempotencyKeyInUseError,
    InvalidCommandError,
    NotSupportedByProtocolError,
    TransactionNotFoundError,
)
from chargeledger.domain.events import IdTagInfoEntry
from chargeledger.domain.id_tags import INVALID, authorize
from chargeledger.domain.operations import OPERATIONS, Common, Lookup
from chargeledger.domain.remote_start_policy import (
    DEFAULT_CONNECTION_TIMEOUT_S,
    NO_SNAPSHOT,
    TwinSnapshot,
)
from chargeledger.domain.twin import StationTwin

Arguments = Mapping[str, Any]


def snapshot_of(
    twin: StationTwin | None,
    connection_timeout_s: float = DEFAULT_CONNECTION_TIMEOUT_S,
    number_of_connectors: int | None = None,
) -> TwinSnapshot:
    if twin is None:
        return replace(
            NO_SNAPSHOT,
            connection_timeout_s=connection_timeout_s,
            number_of_connectors=number_of_connectors,
        )
    statuses = {cid: connector.status for cid, connector in twin.connectors.items()}
    reported = {
        cid: connector.received_at
        for cid, connector in twin.connectors.items()
        if connector.received_at is not None
    }
    return TwinSnapshot(
        MappingProxyType(statuses),
        MappingProxyType(reported),
        twin.booted_at,
        connection_timeout_s,
        number_of_connectors,
    )


@dataclass(frozen=True)
class ReportedConfiguration:
    connection_timeout_s: float | None = None
    number_of_connectors: int | None = None


def _number(value: object) -> float | None:
    try:
        found = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return found if math.isfinite(found) and found >= 0 else None


RESERVATION_IDS = "reservation_id"
"""The sequence reservation ids come from."""

Completed = dict[str, Any]
"""A command's arguments, being completed with what was looked up."""


class OperationInputs:
    def __init__(
        self,
        documents: DocumentStore,
        profiles: ChargingProfileLibrary,
        id_tags: IdTagRegistry,
        clock: Clock,
        refuse_unknown_tags: bool,
        local_lists: NamedLocalLists,
    ) -> None:
        self._local_lists = local_lists
        self._refuse_unknown_tags = refuse_unknown_tags
        self._documents = documents
        self._profiles = profiles
        self._id_tags = id_tags
        self._clock = clock

    async def complete(self, station_id: str, name: str, arguments: Mapping[str, Any]) -> Completed:
        """The command's arguments with what its operation needs looked up."""
        operation = OPERATIONS[name]
        completed = dict(arguments)
        for lookup in operation.lookups:
            await LOOKUPS[lookup](self, station_id, completed)
        if operation.profile_field is not None:
            await self._add_profile(station_id, completed, operation.profile_field)
        return completed

    async def _add_profile(self, station_id: str, completed: Completed, field: str) -> None:
        profile_id = completed.pop("charging_profile_id", None)
        transaction_id = completed.pop("transaction_id", None)
        if profile_id is None:
            return
        profile = await self._profiles.profile(profile_id)
        if transaction_id is not None:
            profile["transaction_id"] = transaction_id
            if completed.get("connector_id") is None:
                completed["connector_id"] = await self._connector_of(station_id, transaction_id)
        completed[field] = profile

    async def _add_id_tag_status(self, station_id: str, completed: Completed) -> None:
        completed["id_tag_status"] = await self.id_tag_status(completed["id_tag"])

    async def _add_reservation_id(self, station_id: str, completed: Completed) -> None:
        completed["reservation_id"] = await self._documents.next_in_sequence(RESERVATION_IDS)

    async def _add_local_list(self, station_id: str, completed: Completed) -> None:
        given, list_name = completed.pop("entries", None), completed.pop("list_name", None)
        if given is not None:
            completed["registry"], completed["entries"] = {}, as_sent(given)
        elif list_name is not None:
            completed["registry"] = {}
            completed["entries"] = await self._local_lists.entries(list_name)
        else:
            completed["registry"] = await self.registry_as_sent()

    async def _add_configuration(self, station_id: str, completed: Completed) -> None:
        completed["configuration"] = await self.configuration(station_id)

    async def _add_recorded_transaction(self, station_id: str, completed: Completed) -> None:
        completed["recorded"] = await self.recorded_transaction(
            station_id, completed["transaction_id"]
        )

    async def recorded_transaction(
        self, station_id: str, transaction_id: int
    ) -> RecordedTransaction | None:
        """What the transactions view holds of the id. It may trail the log: the
        decision trusts the station's own log first, and a stale record only sends a
        command the station then refuses."""
        doc = await read_transaction(self._documents, transaction_key(transaction_id))
        if doc is None:
            return None
        stored = doc.get("status", TransactionStatus.OPEN)  # "unconfirmed": older documents
        status: RecordedStatus = (
            "unconfirmed" if stored == "unconfirmed" else TransactionStatus(stored)
        )
        because = {
            "stopped": f"stop reason {doc.get('stop_reason')}",
            "closed": f"closed by hand: {doc.get('close_reason')}",
            "abandoned": f"transaction {doc.get('abandoned_for')} took its connector",
        }.get(status)
        return RecordedTransaction(
            station_id=doc["station_id"],
            on_this_station=doc["station_id"] == station_id,
            status=status,
            ended_at=doc.get("stopped_at"),
            ended_because=because,
        )

    async def _connector_of(self, station_id: str, transaction_id: int) -> int:
        """The connector a session of the station runs on; the decision refuses a
        TxProfile for a session that is not open there."""
        doc = await read_transaction(self._documents, transaction_key(transaction_id))
        if doc is None or doc.get("station_id") != station_id:
            raise TransactionNotFoundError(
                f"no transaction {transaction_id} on station {station_id}; "
                "check GET /api/transactions"
            )
        return int(doc["connector_id"])

    async def registry_as_sent(self) -> dict[str, IdTagInfoEntry]:
        """Every registered tag with the ``idTagInfo`` (snake_case) it would get now."""
        entries: dict[str, IdTagInfoEntry] = {}
        now = self._clock.now()
        for doc in await self._id_tags.list():
            info = authorize(record_of(doc), now)
            entry: IdTagInfoEntry = {"status": info.status}
            if info.expiry is not None:
                entry["expiry_date"] = info.expiry
            entries[doc["id_tag"]] = entry
        return entries

    async def configuration(self, station_id: str) -> ConfigurationSnapshot:
        doc = await self._documents.get(CONFIGURATION, station_id)
        if doc is None:
            return NO_CONFIGURATION
        readonly = [key for key, entry in doc["keys"].items() if entry.get("readonly")]
        return ConfigurationSnapshot.of(doc["unknown_keys"], readonly)

    async def connection_timeout_s(self, station_id: str) -> float | None:
        """The station's ``ConnectionTimeOut`` as it reported it (by get-configuration or
        a change we made), if it did and it is a number of seconds."""
        return (await self.reported_configuration(station_id)).connection_timeout_s

    async def reported_configuration(self, station_id: str) -> ReportedConfiguration:
        """What the station's reported configuration says that decisions weigh."""
        doc = await self._documents.get(CONFIGURATION, station_id)
        values = {
            key.casefold(): entry.get("value")
            for key, entry in (doc or {}).get("keys", {}).items()
            if isinstance(entry, dict)
        }
        timeout = _number(values.get("connectiontimeout"))
        connectors = _number(values.get("numberofconnectors"))
        return ReportedConfiguration(
            timeout,
            int(connectors) if connectors is not None and connectors.is_integer() else None,
        )

    async def id_tag_status(self, id_tag: str) -> str | None:
        """The registry's verdict on a remote start's tag; ``None`` for a tag it does not
        hold, unless the node refuses remote starts for unknown tags (then Invalid)."""
        doc = await self._id_tags.get(id_tag)
        if doc is None:
            return INVALID if self._refuse_unknown_tags else None
        return authorize(record_of(doc), self._clock.now()).status


LOOKUPS: Mapping[Lookup, Callable[[OperationInputs, str, Completed], Awaitable[None]]] = {
    Lookup.ID_TAG_STATUS: OperationInputs._add_id_tag_status,
    Lookup.RESERVATION_ID: OperationInputs._add_reservation_id,
    Lookup.LOCAL_LIST: OperationInputs._add_local_list,
    Lookup.CONFIGURATION: OperationInputs._add_configuration,
    Lookup.RECORDED_TRANSACTION: OperationInputs._add_recorded_transaction,
}
"""How each ``Lookup`` an operation's spec names adds to the command's arguments."""


class OperatorCommands:
    def __init__(
        self,
        handler: CommandHandler,
        documents: DocumentStore,
        clock: Clock,
        default_ttl_s: float,
        twin: TwinService,
        inputs: OperationInputs,
        connection_timeout_s: float,
        protocols: Mapping[str, StationProtocol],
    ) -> None:
        self._connection_timeout_s = connection_timeout_s
        self._protocols = dict(protocols)
        """By the version a station last spoke: what it can be told (1.6 if unknown)."""
        self._handler = handler
        self._documents = documents
        self._clock = clock
        self._default_ttl_s = default_ttl_s
        self._twin = twin
        self._inputs = inputs
        self._secrets = CommandSecrets(documents)

    async def request(
        self,
        station_id: str,
        command_id: str,
        name: str,
        arguments: Arguments,
        ttl_s: float | None = None,
    ) -> CommandView:
        """Decide the named command; its view (or the view of the open request it repeats)."""
        earlier = await read_command(self._documents, command_id)
        if earlier is not None and earlier["station_id"] != station_id:
            raise IdempotencyKeyInUseError(
                f"command id {command_id!r} already names a command of station "
                f"{earlier['station_id']}; use a new Idempotency-Key"
            )
        now = self._clock.now()
        expires = now + timedelta(seconds=ttl_s if ttl_s is not None else self._default_ttl_s)
        reported = await self._inputs.reported_configuration(station_id)
        timeout = reported.connection_timeout_s or self._connection_timeout_s
        connectors = reported.number_of_connectors
        twin = self._twin.get(station_id)
        self._check_sayable(twin, name, arguments)
        common: Common = {
            "command_id": command_id,
            "requested_at": now.isoformat(),
            "expires_at": expires.isoformat(),
            "twin": snapshot_of(twin, timeout, connectors),
        }
        secrets: dict[str, Any] = {}
        if OPERATIONS[name].secrets:  # kept out of the log
            arguments, secrets = seal(name, command_id, arguments)
        said = fingerprint(name, arguments, ttl_s)
        arguments = await self._inputs.complete(station_id, name, arguments)
        command = OPERATIONS[name].command_of(arguments, common)
        kept = bool(secrets) and await self._secrets.keep(station_id, command_id, secrets, expires)
        try:
            result = await self._handler.execute(station_id, command, fingerprint=said)
        except DomainError:
            if kept:  # refused: no request names them
                await self._secrets.forget(station_id, command_id)
            raise
        if kept and result.same_as is not None:  # merged: its own request is not in the log
            await self._secrets.forget(station_id, command_id)
        elif kept and result.duplicate:
            # Two requests with one key at once both found no secrets kept and wrote
            # them: the request in the log needs them while it is open, so only the
            # secrets of one that already ended go now (the sweep takes any other).
            first = await read_command(self._documents, command_id)
            if first is not None and first["status"] not in OPEN_STATUSES:
                await self._secrets.forget(station_id, command_id)
        view = await self._view(station_id, result.same_as or command_id, name, result)
        if view["command_id"] != command_id:
            view["requested_as"] = command_id  # merged into the open request it repeated
        return view

    def _check_sayable(self, twin: StationTwin | None, name: str, arguments: Arguments) -> None:
        """A command the station's OCPP version has no message for, or cannot say with
        these arguments, is refused now rather than failed when sent."""
        spoken = self._protocols.get(twin.protocol or "") if twin is not None else None
        if spoken is None:
            return
        reason = spoken.unspeakable(name, arguments)
        if reason is None:
            return
        if not spoken.speaks(name):
            raise NotSupportedByProtocolError(reason)
        raise InvalidCommandError(reason)

    async def _view(
        self, station_id: str, command_id: str, name: str, result: CommandResult
    ) -> CommandView:
        doc = await read_command(self._documents, command_id)
        if doc is not None and doc["station_id"] == station_id:
            return command_view(doc)
        view = command_view(
            {
                "command_id": command_id,
                "station_id": station_id,
                "name": name,
                "status": CommandStatus.REQUESTED,
                "detail": "",
                "result": None,
                "attempts": 0,
                "merged_keys": [],
            }
        )
        view["position"] = result.position
        return view


_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""``json.dumps`` with these arguments, made once: the digests are stored, so the text
must never change, but building an encoder per request cost more than encoding."""


def fingerprint(name: str, arguments: Arguments, ttl_s: float | None) -> str:
    """What a request says, as a digest kept with its Idempotency-Key."""
    body = _FINGERPRINT_JSON.encode([name, arguments, ttl_s])
    return hashlib.sha256(body.encode()).hexdigest()
