"""Secrets an operator command carries to its station (set-network-profile's VPN and
APN passwords, its VPN key, its SIM PIN), kept out of the append-only log.

The log is kept forever and shown whole (time travel, the events API, SSE, exports),
so a secret never enters it: the request event carries its arguments with each secret
replaced by a marker, ``sealed:<command id>``, which names where the secret is kept:
a document of the model ``command_secrets``, keyed by station and command id, in the
same store (SQLite file or PostgreSQL database) every node reads. The dispatcher,
on whichever node holds the station and however often it restarted, puts the secrets
back into the payload only to build the CALL. The command views' projection deletes
the document in the commit that shows the command ended.

The event store's port appends events only, so the document is written first and the
request appended after it, never the other way round: a request in the log always
finds its secrets (no node can send a marker for a password). A crash between the two
leaves a document no request names; ``sweep`` deletes such documents once their time
to live is long past, and those of commands that ended while a deletion was lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from chargeledger.application.outgoing_commands import OutgoingCommand
from chargeledger.application.ports import Clock, DocumentStore, DocumentWrite
from chargeledger.application.read_model_documents import read_command
from chargeledger.application.read_model_shapes import CommandDoc
from chargeledger.domain.enums import OPEN_STATUSES
from chargeledger.domain.errors import IdempotencyKeyReusedError
from chargeledger.domain.operations import OPERATIONS

log = logging.getLogger(__name__)

SECRETS: Final = "command_secrets"
"""The document model the secrets are kept in, one document per open command."""

MARKER: Final = "sealed:"
"""What stands in the log for a secret, followed by the command id that keeps it."""

SEALED: Mapping[str, tuple[tuple[str, ...], ...]] = {
    operation.name: tuple(tuple(path.split(".")) for path in operation.secrets)
    for operation in OPERATIONS.values()
    if operation.secrets
}
"""By operation: where in its arguments (as the API body names them) a secret sits,
as its spec declares (``Operation.secrets``)."""

SWEEP_AFTER: Final = timedelta(hours=1)
"""How long past a command's time to live its secrets may still be kept, if nothing
ended it in the log (a crash between writing them and appending the request)."""


def secret_key(station_id: str, command_id: str) -> str:
    return f"{station_id}/{command_id}"


def seal(
    name: str, command_id: str, arguments: Mapping[str, Any]
) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """The arguments with each secret replaced by its marker, and the secrets by path
    (``{"connection_data.vpn.password": "..."}``; empty when there are none). The
    arguments of an operation without secrets come back as they are."""
    if name not in SEALED:
        return arguments, {}
    sealed = dict(arguments)
    secrets: dict[str, Any] = {}
    for path in SEALED[name]:
        *parents, leaf = path
        holder: Any = sealed
        for part in parents:
            child = holder.get(part) if isinstance(holder, dict) else None
            if not isinstance(child, Mapping):
                break
            holder[part] = holder = dict(child)
        else:
            if isinstance(holder, dict) and holder.get(leaf) is not None:
                secrets[".".join(path)] = holder[leaf]
                holder[leaf] = MARKER + command_id
    return sealed, secrets


def _leaf(payload: Any, path: tuple[str, ...]) -> tuple[dict[str, Any], str] | None:
    """The mapping that holds ``path``'s last part, and that part, if it is there."""
    *parents, leaf = path
    holder = payload
    for part in parents:
        holder = holder.get(part) if isinstance(holder, Mapping) else None
    return (holder, leaf) if isinstance(holder, dict) and leaf in holder else None


def marked(name: str, command_id: str, payload: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Where the stored payload of an operation holds the marker of one of its secrets."""
    found = []
    for path in SEALED.get(name, ()):
        at = _leaf(payload, path)
        if at is not None and at[0][at[1]] == MARKER + command_id:
            found.append(path)
    return found


def unseal(
    name: str, command_id: str, payload: Mapping[str, Any], secrets: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The payload with each marker replaced by its secret, or ``None`` when one is
    missing from ``secrets`` (never a marker in the station's hands)."""
    filled: dict[str, Any] = _copy(payload)
    for path in marked(name, command_id, filled):
        dotted = ".".join(path)
        at = _leaf(filled, path)
        if dotted not in secrets or at is None:
            return None
        at[0][at[1]] = secrets[dotted]
    return filled


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


class CommandSecrets:
    """The secrets of open commands, as documents beside the read models."""

    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents

    async def keep(
        self, station_id: str, command_id: str, secrets: Mapping[str, Any], expires_at: datetime
    ) -> bool:
        """Keep a command's secrets before its request is appended; ``False`` when the
        same are kept for it already (a repeat of its Idempotency-Key: the first ones
        stand). A repeat with other secrets is another body under the same key, refused
        as any other (``IdempotencyKeyReusedError``): the digest kept with the key leaves
        the secrets out, so while the command is open its secrets are what tell. Once
        it ended they are gone, and such a repeat gets the first command back."""
        key = secret_key(station_id, command_id)
        kept = await self._documents.get(SECRETS, key)
        if kept is not None:
            if kept.get("secrets") != dict(secrets):
                raise IdempotencyKeyReusedError(
                    f"{command_id!r} already names a request with other secrets; send those"
                    " again, or use a new Idempotency-Key"
                )
            return False
        doc = {
            "station_id": station_id,
            "command_id": command_id,
            "expires_at": expires_at.isoformat(),
            "secrets": dict(secrets),
        }
        await self._documents.write([DocumentWrite(SECRETS, key, doc)])
        return True

    async def forget(self, station_id: str, command_id: str) -> None:
        await self._documents.write(
            [DocumentWrite(SECRETS, secret_key(station_id, command_id), None)]
        )

    async def unsealed(self, command: OutgoingCommand) -> Mapping[str, Any] | None:
        """The command's payload as its CALL needs it, secrets put back; ``None`` when
        they are no longer kept. Reads nothing for a payload without a marker."""
        if not marked(command.name, command.command_id, command.payload):
            return command.payload
        doc = await self._documents.get(SECRETS, secret_key(command.station_id, command.command_id))
        if doc is None:
            return None
        return unseal(command.name, command.command_id, command.payload, doc.get("secrets") or {})

    async def sweep(self, now: datetime) -> int:
        """Delete the secrets of commands long past their time to live that the log does
        not show open (never appended, or ended while their deletion was lost)."""
        stale: list[DocumentWrite] = []
        for doc in await self._documents.list(SECRETS):
            if datetime.fromisoformat(doc["expires_at"]) + SWEEP_AFTER > now:
                continue
            station_id, command_id = doc["station_id"], doc["command_id"]
            view = await read_command(self._documents, command_id)
            if view is not None and view["station_id"] != station_id:
                view = await read_command(self._documents, secret_key(station_id, command_id))
            if view is None or view["status"] not in OPEN_STATUSES:
                stale.append(DocumentWrite(SECRETS, secret_key(station_id, command_id), None))
        if stale:
            await self._documents.write(stale)
            log.info("deleted the secrets of %d commands no longer open", len(stale))
        return len(stale)

    async def run_sweep(self, clock: Clock, interval_s: float = 60.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.sweep(clock.now())


def forgotten(commands: Mapping[str, CommandDoc]) -> Sequence[DocumentWrite]:
    """The projection's share: delete the secrets of the commands of a batch that ended,
    in the commit that shows them ended."""
    return [
        DocumentWrite(SECRETS, secret_key(doc["station_id"], str(doc["command_id"])), None)
        for doc in commands.values()
        if doc.get("name") in SEALED and doc.get("status") not in OPEN_STATUSES
    ]
