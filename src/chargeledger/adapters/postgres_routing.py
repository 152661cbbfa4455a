"""Commands routed across the cluster: a command committed on one node for a station
another node holds goes to its holder in a NOTIFY, with its view, so the holder queues
it without reading the log. Apart from ``postgres_presence.py`` since it is only a
speed-up beside the registry (the holder's log follower delivers every command anyway).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from psycopg_pool import AsyncConnectionPool

from chargeledger.adapters.postgres_presence_schema import CHANNEL, NOTICE_BYTES
from chargeledger.application.outgoing_commands import OutgoingCommand

log = logging.getLogger(__name__)


class CommandRoutes:
    """Sends this node's routed commands in batches, and hands those routed to it to
    what ``on_routed`` registered."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        node_id: str,
        spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
    ) -> None:
        self.node_id = node_id
        self._pool = pool
        self._spawn = spawn
        self._routed: list[Callable[[OutgoingCommand], None]] = []
        self._routes: list[str] = []
        self._routing: asyncio.Task[None] | None = None

    def on_routed(self, callback: Callable[[OutgoingCommand], None]) -> None:
        """What to call with a command another node routed to the station's holder."""
        self._routed.append(callback)

    def route(self, command: OutgoingCommand) -> None:
        """Tell the cluster of a command committed here for a station held elsewhere,
        with its view, so its holder queues it without reading the log (which waits
        for every older transaction on the server). Only a speed-up: the holder's log
        follower delivers it anyway, so a notice too big for a NOTIFY or lost in a
        reconnection costs time, not the command; its dispatch is recorded once
        under the holder's epoch (I3, I8). Does not block; sent in batches."""
        try:
            payload = json.dumps({"k": "command", "n": self.node_id, "d": command.as_view()})
        except (TypeError, ValueError):
            return
        if len(payload.encode()) > NOTICE_BYTES:
            return
        self._routes.append(payload)
        if self._routing is None or self._routing.done():
            self._routing = self._spawn(self._send_routes(), "presence-routes")

    async def _send_routes(self) -> None:
        while self._routes:
            payloads, self._routes = self._routes, []
            try:
                async with self._pool.connection() as conn:
                    await conn.execute(
                        "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (CHANNEL, payloads)
                    )
            except Exception as exc:
                log.warning(
                    "could not route %d commands (%r); the log delivers them", len(payloads), exc
                )

    def take_routed(self, doc: Any) -> None:
        """A command another node routed here, as its notice carried it."""
        command = OutgoingCommand.from_view(doc) if isinstance(doc, dict) else None
        if command is None:
            return  # the log follower delivers it
        for routed in self._routed:
            try:
                routed(command)
            except Exception:
                # The log follower delivers it anyway; the listener must go on.
                log.exception("a routed command could not be queued")
