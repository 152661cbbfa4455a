"""One station's connection as the rest of the node sees it: who it is, and our
outgoing CALLs to it.

OCPP allows one outstanding CALL per connection. Ours wait in a bounded FIFO
queue; the head is sent when the previous CALL is answered, failed or timed
out. Nothing here blocks the reader, so the station's own CALLs are read and
answered while ours wait (the seed's network events interleaving with queued
commands). A CALL still queued when a newer connection takes the station over
moves to the newer one; one already sent is in doubt and fails with
``StationDisconnectedError`` when its connection closes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from chargeledger import log_context
from chargeledger.adapters.ocpp import schemas
from chargeledger.adapters.ocpp.framing import Call, CallErrorFrame, CallResult, encode
from chargeledger.application.ports import (
    RESPONSE_TIMEOUT_S,
    CallTimeoutError,
    InvalidCallError,
    StationAnswerInvalidError,
    StationCallError,
    StationDisconnectedError,
    StationOfflineError,
    StationQueueFullError,
)

log = logging.getLogger(__name__)

SendText = Callable[[str], None]

_ids = itertools.count(1)


class _Outgoing:
    __slots__ = ("action", "command", "future", "payload", "timer", "unique_id")

    def __init__(
        self, action: str, payload: dict[str, Any], future: asyncio.Future[dict[str, Any]]
    ) -> None:
        self.action = action
        self.payload = payload
        self.future = future
        self.unique_id = ""
        self.timer: asyncio.TimerHandle | None = None
        # The command the caller works on (the dispatcher names it), for the log lines of
        # the CALL and its answer, which may be written from another task.
        self.command = log_context.current("command")


class StationSession:
    """Implements the ``StationLink`` port for one connection of one station."""

    __slots__ = (
        "_closed",
        "_outstanding",
        "_queue",
        "_send_text",
        "_sending",
        "_successor",
        "booting",
        "epoch",
        "max_queue",
        "protocol",
        "registered",
        "response_timeout_s",
        "station_id",
    )

    def __init__(
        self,
        station_id: str,
        epoch: int,
        send_text: SendText,
        response_timeout_s: float = RESPONSE_TIMEOUT_S,
        max_queue: int = 64,
        protocol: str = schemas.OCPP16,
    ) -> None:
        self.station_id = station_id
        self.protocol = protocol
        """The OCPP version this connection speaks (its WebSocket subprotocol)."""
        self.epoch = epoch
        self.response_timeout_s = response_timeout_s
        self.max_queue = max_queue
        self.registered = False
        """Set once a BootNotification was accepted on this or an older connection."""
        self.booting = False
        """Set when a BootNotification arrived on this connection: its answer decides
        whether what waits goes out, not a resume."""
        self._send_text = send_text
        self._queue: deque[_Outgoing] = deque()
        self._outstanding: _Outgoing | None = None
        self._sending = False
        self._closed = False
        self._successor: StationSession | None = None

    @property
    def fenced(self) -> bool:
        """A newer connection speaks for this station: this one may no longer act."""
        return self._successor is not None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def outstanding_action(self) -> str | None:
        """The action of our CALL that awaits its answer (for its round-trip time)."""
        return None if self._outstanding is None else self._outstanding.action

    @property
    def outstanding_command(self) -> tuple[str, str | None] | None:
        """The unique id of our CALL that awaits its answer and the command it is for
        (for the log line of the answer)."""
        entry = self._outstanding
        return None if entry is None else (entry.unique_id, entry.command)

    @property
    def queued(self) -> int:
        """CALLs waiting to be sent (the outstanding one not counted)."""
        return len(self._queue)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue a CALL, send it in turn, and return the station's CALLRESULT payload."""
        try:
            schemas.check(action, payload, self.protocol)
        except schemas.PayloadError as error:
            raise InvalidCallError(
                f"{action} for {self.station_id} not sent: {error.description}"
            ) from None
        session = self._current()
        if session._closed:
            raise StationOfflineError(f"station {self.station_id} is not connected; not sent")
        if len(session._queue) >= session.max_queue:
            raise StationQueueFullError(
                f"{session.max_queue} CALLs already wait for station {self.station_id}; "
                "not sent, try again once they are answered"
            )
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        session._queue.append(_Outgoing(action, payload, future))
        session._pump()
        return await future

    def _current(self) -> StationSession:
        session = self
        while session._successor is not None:
            session = session._successor
        return session

    def start_sending(self) -> None:
        """The connection may carry our CALLs from now on (after any takeover)."""
        self._sending = True
        self._pump()

    def _pump(self) -> None:
        if not self._sending or self._outstanding is not None or self.fenced or self._closed:
            return
        while self._queue:
            entry = self._queue.popleft()
            if entry.future.done():
                continue  # its caller gave up while it waited: it was never sent
            entry.unique_id = f"cl-{next(_ids)}"
            self._outstanding = entry
            entry.timer = asyncio.get_running_loop().call_later(
                self.response_timeout_s, self._timed_out, entry
            )
            with log_context.bound(command=entry.command):
                self._send_text(encode(Call(entry.unique_id, entry.action, entry.payload)))
            return

    def _timed_out(self, entry: _Outgoing) -> None:
        if self._outstanding is not entry:
            return
        self._outstanding = None
        if not entry.future.done():
            entry.future.set_exception(
                CallTimeoutError(
                    f"{self.station_id} did not answer {entry.action} within "
                    f"{self.response_timeout_s:g} s"
                )
            )
        self._pump()

    def answer_arrived(self, frame: CallResult | CallErrorFrame) -> bool:
        """Settle our outstanding CALL with its answer; ``False`` if we did not ask."""
        entry = self._outstanding
        if entry is None or entry.unique_id != frame.unique_id or self.fenced:
            return False
        self._outstanding = None
        if entry.timer is not None:
            entry.timer.cancel()
        if not entry.future.done():  # a caller that stopped waiting still had it answered
            error = _answer_error(entry.action, frame, self.protocol)
            if error is None and isinstance(frame, CallResult):
                entry.future.set_result(frame.payload)
            elif error is not None:
                entry.future.set_exception(error)
        self._pump()
        return True

    def hand_over_to(self, newer: StationSession) -> None:
        """Fence this connection and move the CALLs it had not sent to ``newer`` (I8)."""
        self._successor = newer
        newer.registered = newer.registered or self.registered
        while self._queue:
            newer._queue.appendleft(self._queue.pop())
        newer._pump()

    def connection_closed(self) -> None:
        """Fail the CALL in flight (in doubt) and, unless handed over, those never sent."""
        if self._closed:
            return
        self._closed = True
        entry, self._outstanding = self._outstanding, None
        if entry is not None:
            if entry.timer is not None:
                entry.timer.cancel()
            _fail(
                entry.future,
                StationDisconnectedError(
                    f"station {self.station_id} disconnected before answering {entry.action}"
                ),
            )
        while self._queue:
            waiting = self._queue.popleft()
            _fail(
                waiting.future,
                StationOfflineError(
                    f"station {self.station_id} disconnected; {waiting.action} was not sent"
                ),
            )


def _answer_error(
    action: str, frame: CallResult | CallErrorFrame, protocol: str
) -> StationCallError | None:
    if isinstance(frame, CallErrorFrame):
        return StationCallError(frame.code, frame.description)
    try:
        schemas.check(f"{action}Response", frame.payload, protocol)
    except schemas.PayloadError as error:
        return StationAnswerInvalidError(
            error.code, f"the station's answer breaks the OCPP schema: {error.description}"
        )
    return None


def _fail(future: asyncio.Future[dict[str, Any]], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
        # Nobody may await it any more (its caller was cancelled); do not warn about it.
        future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
