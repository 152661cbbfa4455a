"""Operator use cases: decide a station command and answer with its command view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chargeledger.application.command_bus import CommandBus, CommandResult
from chargeledger.application.ports import Clock, DocumentStore
from chargeledger.application.projections import COMMANDS
from chargeledger.application.queries import command_view
from chargeledger.domain.commands import RequestRemoteStart


class OperatorCommands:
    def __init__(
        self, bus: CommandBus, documents: DocumentStore, clock: Clock, default_ttl_s: float
    ) -> None:
        self._bus = bus
        self._documents = documents
        self._clock = clock
        self._default_ttl_s = default_ttl_s

    async def remote_start(
        self,
        station_id: str,
        command_id: str,
        connector_id: int,
        id_tag: str,
        ttl_s: float | None = None,
    ) -> dict[str, Any]:
        now = self._clock.now()
        expires = now + timedelta(seconds=ttl_s if ttl_s is not None else self._default_ttl_s)
        command = RequestRemoteStart(
            command_id=command_id,
            connector_id=connector_id,
            id_tag=id_tag,
            requested_at=now.isoformat(),
            expires_at=expires.isoformat(),
        )
        result = await self._bus.execute(station_id, command)
        if not result.events and not result.duplicate:
            pending = result.state.pending_remote_start(connector_id)
            if pending is not None:  # the same id tag again: the pending request answers
                return await self._view(station_id, pending.command_id, "remote-start", result)
        return await self._view(station_id, command_id, "remote-start", result)

    async def _view(
        self, station_id: str, command_id: str, name: str, result: CommandResult
    ) -> dict[str, Any]:
        doc = await self._documents.get(COMMANDS, command_id)
        if doc is not None:
            return command_view(doc)
        return {
            "command_id": command_id,
            "station_id": station_id,
            "name": name,
            "status": "requested",
            "detail": "",
            "result": None,
            "position": result.position,
        }
