"""One station's connection: our outgoing CALLs, one at a time, and their answers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from chargeledger.adapters.ocpp.framing import Call, CallError, CallResult, encode
from chargeledger.application.ports import (
    CallTimeoutError,
    StationCallError,
    StationDisconnectedError,
)

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]
Close = Callable[[], Coroutine[Any, Any, None]]

_ids = itertools.count(1)


class StationSession:
    """Implements the ``StationLink`` port. The OCPP rule of one outstanding CALL per
    connection is a lock; the station's own CALLs are read and answered meanwhile,
    because the reader never waits on this lock."""

    def __init__(
        self,
        station_id: str,
        epoch: int,
        send: Send,
        close: Close,
        response_timeout_s: float = 30.0,
    ) -> None:
        self.station_id = station_id
        self.epoch = epoch
        self._send = send
        self.close = close
        self._response_timeout_s = response_timeout_s
        self._call_lock = asyncio.Lock()
        self._pending: tuple[str, asyncio.Future[dict[str, Any]]] | None = None
        self.closed = asyncio.Event()
        self.superseded = False

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        async with self._call_lock:
            if self.closed.is_set() or self.superseded:
                raise StationDisconnectedError(f"station {self.station_id} is not connected")
            unique_id = f"cl-{next(_ids)}"
            answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending = (unique_id, answer)
            try:
                await self._send(encode(Call(unique_id, action, payload)))
                return await asyncio.wait_for(answer, self._response_timeout_s)
            except TimeoutError:
                raise CallTimeoutError(
                    f"{self.station_id} did not answer {action} within "
                    f"{self._response_timeout_s:g} s"
                ) from None
            finally:
                self._pending = None

    def answer_arrived(self, frame: CallResult | CallError) -> bool:
        """Match a CALLRESULT/CALLERROR to our outstanding CALL; False if we did not ask."""
        if self._pending is None or self._pending[0] != frame.unique_id:
            return False
        future = self._pending[1]
        if future.done():
            return False
        if isinstance(frame, CallResult):
            future.set_result(frame.payload)
        else:
            future.set_exception(StationCallError(frame.code, frame.description))
        return True

    def connection_closed(self) -> None:
        self.closed.set()
        if self._pending is not None and not self._pending[1].done():
            self._pending[1].set_exception(
                StationDisconnectedError(f"station {self.station_id} disconnected")
            )
            with contextlib.suppress(BaseException):
                self._pending[1].exception()  # mark retrieved when nobody waits any more
