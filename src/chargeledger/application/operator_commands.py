"""Operator use cases: decide a station command and answer with its command view.

The twin is consulted here, before deciding: its snapshot rides on the command
into the pure remote-start rule (a Faulted or Unavailable connector refuses).
What else a command needs (a stored charging profile, a reservation id, the id-tag
registry, the station's configuration keys) is looked up by ``OperationInputs``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from chargeledger.application.command_flights import CommandResult
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.command_inputs import OperationInputs
from chargeledger.application.ports import Clock, DocumentStore, StationProtocol
from chargeledger.application.queries import command_view
from chargeledger.application.read_model_documents import read_command
from chargeledger.application.read_model_shapes import CommandView
from chargeledger.application.twin_service import TwinService
from chargeledger.domain.enums import CommandStatus
from chargeledger.domain.errors import (
    IdempotencyKeyInUseError,
    InvalidCommandError,
    NotSupportedByProtocolError,
)
from chargeledger.domain.operations import OPERATIONS, Common
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


class OperatorCommands:
    def __init__(
        self,
        handler: CommandHandler,
        documents: DocumentStore,
        clock: Clock,
        default_ttl_s: float,
        twin: TwinService,
        inputs: OperationInputs,
        connection_timeout_s: float = DEFAULT_CONNECTION_TIMEOUT_S,
        protocols: Mapping[str, StationProtocol] | None = None,
    ) -> None:
        self._connection_timeout_s = connection_timeout_s
        self._protocols = dict(protocols or {})
        """By the version a station last spoke: what it can be told (1.6 if unknown)."""
        self._handler = handler
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
        said = fingerprint(name, arguments, ttl_s)
        arguments = await self._inputs.complete(station_id, name, arguments)
        command = OPERATIONS[name].command_of(arguments, common)
        result = await self._handler.execute(station_id, command, fingerprint=said)
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
