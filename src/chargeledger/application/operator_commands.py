"""Operator use cases: decide a station command and answer with its command view.

The twin is consulted here, before deciding: its snapshot rides on the command
into the pure remote-start rule (a Faulted or Unavailable connector refuses).
What else a command needs (a stored charging profile, a reservation id, the id-tag
registry, the station's configuration keys) is looked up by ``OperationInputs``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from chargeledger.application.command_bus import CommandBus, CommandResult
from chargeledger.application.operation_inputs import OperationInputs
from chargeledger.application.ports import Clock, DocumentStore
from chargeledger.application.projections import COMMANDS
from chargeledger.application.queries import command_view
from chargeledger.application.twin_service import TwinService
from chargeledger.domain import commands as c
from chargeledger.domain.enums import CommandStatus
from chargeledger.domain.errors import IdempotencyKeyInUseError
from chargeledger.domain.remote_start_policy import (
    DEFAULT_CONNECTION_TIMEOUT_S,
    NO_SNAPSHOT,
    TwinSnapshot,
)
from chargeledger.domain.twin import StationTwin

Arguments = Mapping[str, Any]
Common = dict[str, Any]


def _remote_start(args: Arguments, common: Common) -> c.OperatorCommand:
    return c.RequestRemoteStart(
        connector_id=args.get("connector_id"),
        id_tag=args["id_tag"],
        charging_profile=args.get("charging_profile"),
        id_tag_status=args.get("id_tag_status"),
        force=bool(args.get("force", False)),
        **common,
    )


def _remote_stop(args: Arguments, common: Common) -> c.OperatorCommand:
    return c.RequestRemoteStop(
        transaction_id=args["transaction_id"], recorded=args.get("recorded"), **common
    )


def _unlock_connector(args: Arguments, common: Common) -> c.OperatorCommand:
    return c.RequestUnlockConnector(connector_id=args["connector_id"], **common)


def _reset(args: Arguments, common: Common) -> c.OperatorCommand:
    return c.RequestReset(reset_type=args["type"], **common)


def _change_availability(args: Arguments, common: Common) -> c.OperatorCommand:
    return c.RequestAvailabilityChange(
        connector_id=args["connector_id"], availability_type=args["type"], **common
    )


def _trigger_message(args: Arguments, common: Common) -> c.OperatorCommand:
    return c.RequestTriggerMessage(
        requested_message=args["requested_message"],
        connector_id=args.get("connector_id"),
        **common,
    )


Builder = Callable[[Arguments, Common], c.OperatorCommand]


def _same_names(command_type: type[c.OperatorCommand]) -> Builder:
    """A builder for a command whose fields are named as the API body's."""
    names = {f.name for f in fields(command_type)} - set(_COMMON)

    def build(args: Arguments, common: Common) -> c.OperatorCommand:
        return command_type(**common, **{k: v for k, v in args.items() if k in names})

    return build


_COMMON = ("command_id", "requested_at", "expires_at", "twin")

BUILDERS: dict[str, Builder] = {
    "remote-start": _remote_start,
    "remote-stop": _remote_stop,
    "unlock-connector": _unlock_connector,
    "reset": _reset,
    "change-availability": _change_availability,
    "trigger-message": _trigger_message,
    "clear-cache": _same_names(c.RequestCacheClear),
    "get-configuration": _same_names(c.RequestConfiguration),
    "change-configuration": _same_names(c.RequestConfigurationChange),
    "data-transfer": _same_names(c.RequestDataTransfer),
    "update-firmware": _same_names(c.RequestFirmwareUpdate),
    "get-diagnostics": _same_names(c.RequestDiagnostics),
    "get-local-list-version": _same_names(c.RequestLocalListVersion),
    "send-local-list": _same_names(c.RequestLocalListUpdate),
    "reserve-now": _same_names(c.RequestReservation),
    "cancel-reservation": _same_names(c.RequestReservationCancel),
    "set-charging-profile": _same_names(c.RequestChargingProfile),
    "clear-charging-profile": _same_names(c.RequestChargingProfileClear),
    "get-composite-schedule": _same_names(c.RequestCompositeSchedule),
}
"""Command name (as in the API path) to the domain command; arguments as the API body,
completed by ``OperationInputs``."""


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


class OperatorCommands:
    def __init__(
        self,
        bus: CommandBus,
        documents: DocumentStore,
        clock: Clock,
        default_ttl_s: float,
        twin: TwinService,
        inputs: OperationInputs,
        connection_timeout_s: float = DEFAULT_CONNECTION_TIMEOUT_S,
    ) -> None:
        self._connection_timeout_s = connection_timeout_s
        self._bus = bus
        self._documents = documents
        self._clock = clock
        self._default_ttl_s = default_ttl_s
        self._twin = twin
        self._inputs = inputs

    async def request(
        self,
        station_id: str,
        command_id: str,
        name: str,
        arguments: Arguments,
        ttl_s: float | None = None,
    ) -> dict[str, Any]:
        """Decide the named command; its view (or the view of the open request it repeats)."""
        earlier = await self._documents.get(COMMANDS, command_id)
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
        common: Common = {
            "command_id": command_id,
            "requested_at": now.isoformat(),
            "expires_at": expires.isoformat(),
            "twin": snapshot_of(twin, timeout, connectors),
        }
        said = fingerprint(name, arguments, ttl_s)
        arguments = await self._inputs.complete(station_id, name, arguments)
        command = BUILDERS[name](arguments, common)
        result = await self._bus.execute(station_id, command, fingerprint=said)
        view = await self._view(station_id, result.same_as or command_id, name, result)
        if view["command_id"] != command_id:
            view["requested_as"] = command_id  # merged into the open request it repeated
        return view

    async def _view(
        self, station_id: str, command_id: str, name: str, result: CommandResult
    ) -> dict[str, Any]:
        doc = await self._documents.get(COMMANDS, command_id)
        if doc is not None and doc["station_id"] == station_id:
            return command_view(doc)
        return command_view(
            {
                "command_id": command_id,
                "station_id": station_id,
                "name": name,
                "status": CommandStatus.REQUESTED,
                "detail": "",
                "result": None,
                "attempts": 0,
                "merged_keys": [],
                "position": result.position,
            }
        )


def fingerprint(name: str, arguments: Arguments, ttl_s: float | None) -> str:
    """What a request says, as a digest kept with its Idempotency-Key."""
    body = json.dumps([name, arguments, ttl_s], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()
