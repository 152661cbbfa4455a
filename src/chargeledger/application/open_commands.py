"""The open commands' views, read once for every caller that asks while a read runs.

A station that becomes ready looks up what waits for it in the command views. Reading
every open command of the cluster for each boot costs O(open commands) per boot: in a
reconnect storm of thousands of stations the same list is read thousands of times.
Here callers share reads (single flight), without ever being given a read that began
before they asked: a read that began earlier may predate what the caller already knows
is in the views (a command requested before its station's boot). So a caller joins the
read queued to start next, and every caller that arrives while one read runs shares the
one that follows it: at most two reads exist at a time, whatever the number of callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from chargeledger.application.outgoing_commands import OutgoingCommand
from chargeledger.application.ports import DocumentStore
from chargeledger.application.read_model_documents import COMMANDS, OPEN

OpenByStation = Mapping[str, list[OutgoingCommand]]
"""Each station's open commands, oldest request first."""


class OpenCommands:
    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents
        self._queued: asyncio.Future[OpenByStation] | None = None
        """The read that starts when the running one ends (or at once): shared by every
        caller that arrives before it starts."""
        self._reader: asyncio.Task[None] | None = None

    async def by_station(self) -> OpenByStation:
        """Every open command, from a read of the views that began after this call."""
        if self._queued is None:
            self._queued = asyncio.get_running_loop().create_future()
            self._queued.add_done_callback(_retrieve)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read_while_asked(), name="open-commands")
        return await asyncio.shield(self._queued)

    async def _read_while_asked(self) -> None:
        while self._queued is not None:
            answer, self._queued = self._queued, None  # later callers queue the next read
            try:
                answer.set_result(await self._read())
            except Exception as failure:
                answer.set_exception(failure)
            except asyncio.CancelledError:
                answer.cancel()
                if self._queued is not None:
                    self._queued.cancel()
                    self._queued = None
                raise

    async def _read(self) -> OpenByStation:
        """An unreadable view is passed over."""
        by_station: dict[str, list[OutgoingCommand]] = {}
        for view in await self._documents.list(COMMANDS, tag=OPEN):
            command = OutgoingCommand.from_view(view)
            if command is not None:
                by_station.setdefault(command.station_id, []).append(command)
        for commands in by_station.values():
            commands.sort(key=lambda command: command.position)
        return by_station


def _retrieve(answer: asyncio.Future[OpenByStation]) -> None:
    """A failed read whose callers all went away is not logged as never retrieved."""
    if not answer.cancelled():
        answer.exception()
