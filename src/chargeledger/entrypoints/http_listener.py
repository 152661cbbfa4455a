"""The API's listening sockets, accepted from here rather than by asyncio's server.

asyncio accepts up to a listen backlog of connections per wake and hands each to its
protocol two wakes later; a connection over the cap is refused there and its socket
closed a wake after that. Under a flood each wake found a full backlog, so the
refused connections still open outnumbered the admitted ones: a hundred and more
descriptors beyond the cap, and at ``ulimit -n`` 256 the node ran out ("Too many
open files") with its caps at 64. ``CappedListener`` counts each connection as it is
accepted: one over a cap is answered (503) and closed before the next ``accept()``,
so the API never holds more descriptors than its cap (plus the one being refused);
one within the caps goes to its protocol already counted.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from chargeledger.adapters.capped_listener import CappedListener, listening_sockets
from chargeledger.entrypoints.http_connections import GuardedProtocol, refusal_response

log = logging.getLogger(__name__)


class CappedServer(uvicorn.Server):
    """uvicorn with its port accepted by a ``CappedListener``; ``config.http`` must be
    a ``guarded_protocol(...)``, whose count the listener keeps."""

    def __init__(self, config: uvicorn.Config, accept_failed: Callable[[OSError], None]) -> None:
        super().__init__(config)
        self.accept_failed = accept_failed

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config
        guarded = config.http_protocol_class
        assert issubclass(guarded, GuardedProtocol), "config.http: a guarded_protocol()"

        def admitted() -> asyncio.Protocol:
            return guarded(config, self.server_state, self.lifespan.state, admitted=True)

        try:
            bound = sockets or listening_sockets(config.host, config.port, config.backlog)
        except OSError as exc:  # as uvicorn does: say why, and exit
            log.error("%s", exc)
            await self.lifespan.shutdown()
            sys.exit(STARTUP_FAILURE)
        listener = CappedListener(
            bound, admitted, guarded.count, refusal_response, self.accept_failed
        )
        await listener.start_serving()
        # uvicorn only closes and awaits its servers, which an AbstractServer does
        self.servers = [listener]  # type: ignore[list-item]
        self.started = True
