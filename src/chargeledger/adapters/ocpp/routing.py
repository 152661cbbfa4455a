"""What a station's messages mean: its CALLs go to their handlers (one at a time, as
OCPP asks, answered in the order asked) and its CALLRESULTs and CALLERRORs settle
our CALL that waits for them (``StationSession``, which queues and matches our
CALLs to the station). A frame that is not OCPP-J gets the CALLERROR ``framing``
names, or is dropped if it was itself an answer.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable
from typing import Protocol

from chargeledger.adapters.metrics import NodeMetrics
from chargeledger.adapters.ocpp import connection_log, framing, schemas
from chargeledger.adapters.ocpp.connection import Listener, WebSocketConnection
from chargeledger.adapters.ocpp.handlers import Reply, StationMessages
from chargeledger.adapters.ocpp.options import LOGGER_NAME
from chargeledger.application.ports import StationPresence

log = logging.getLogger(LOGGER_NAME)

MAX_WAITING_CALLS = 4
"""Station CALLs that may wait behind one being handled (OCPP allows one at a time);
with that many waiting, the rest stay unread in the socket."""


class Gateway(Listener, Protocol):
    """What routing needs of the gateway beyond a connection's ``Listener``."""

    messages: StationMessages
    stations: StationPresence
    metrics: NodeMetrics


class StationConnection(WebSocketConnection):
    """A station's connection, its messages routed. While a CALL of the station is
    being handled, up to ``MAX_WAITING_CALLS`` more wait in ``inbox``."""

    __slots__ = ("busy", "gateway", "inbox")

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self.gateway = gateway
        self.busy = False
        self.inbox: deque[framing.Call] | None = None

    def _backlogged(self) -> bool:
        return self.inbox is not None and len(self.inbox) >= MAX_WAITING_CALLS

    def _on_message(self, text: str) -> None:
        session = self.session
        if session is None or not self.live or session.fenced:
            return  # fenced: a newer connection speaks for this station now
        self.gateway.stations.message_received(session.station_id)
        connection_log.frame(
            "<-", session.station_id, self.client, text, session.outstanding_command
        )
        connection_log.bind(session.station_id, self.client)
        frame = framing.parse(text)
        if isinstance(frame, framing.Call):
            if self.busy:
                self._queue_call(frame)
            else:
                self._handle_call(frame)
        elif isinstance(frame, framing.FrameFault):
            log.warning("bad frame from %s: %s", session.station_id, frame.description)
            if frame.replyable:
                ocpp201 = session.protocol == schemas.OCPP201
                self.send_text(framing.encode(frame.to_call_error(ocpp201)))
        elif (action := session.outstanding_action) and session.answer_arrived(frame):
            connection_log.answered(self.gateway.metrics, action, frame, self.call_sent_at)
        else:
            log.warning(
                "dropped a %s from %s that answers no CALL of ours (id %s)",
                "CALLRESULT" if isinstance(frame, framing.CallResult) else "CALLERROR",
                session.station_id,
                frame.unique_id,
            )

    def _queue_call(self, call: framing.Call) -> None:
        # Bounded without refusing anything: with MAX_WAITING_CALLS waiting no more
        # bytes are parsed, so at most those of one slice join them.
        if self.inbox is None:
            self.inbox = deque()
        self.inbox.append(call)

    def _handle_call(self, call: framing.Call) -> None:
        session = self.session
        assert session is not None
        protocol = session.protocol
        handler = self.gateway.messages.handlers_for(protocol).get(call.action)
        if handler is None:
            served = schemas.STATION_ACTIONS_OF.get(protocol, frozenset())
            if call.action in served or schemas.known_action(call.action, protocol):
                self._error(call, framing.NOT_SUPPORTED, f"{call.action} is not served here")
            else:
                spoken = "OCPP 2.0.1" if protocol == schemas.OCPP201 else "OCPP 1.6"
                self._error(
                    call, framing.NOT_IMPLEMENTED, f"{call.action} is not an {spoken} action"
                )
            return
        try:
            schemas.check(call.action, call.payload, protocol)
        except schemas.PayloadError as error:
            self._error(call, error.code, error.description)
            return
        try:
            result = handler(session, call.payload)
        except Exception:
            log.exception("handling %s from %s failed", call.action, session.station_id)
            self._error(call, framing.INTERNAL_ERROR, "the CSMS could not handle it")
            return
        if isinstance(result, Reply):
            self._reply(call, result)
        else:
            self.busy = True
            self.gateway.spawn(self._finish(call, result), f"ocpp-{call.action}")

    async def _finish(self, call: framing.Call, pending: Awaitable[Reply]) -> None:
        try:
            reply = await pending
        except Exception:
            log.exception("handling %s failed", call.action)
            self.busy = False
            self._error(call, framing.INTERNAL_ERROR, "the CSMS could not handle it")
        else:
            self.busy = False
            self._reply(call, reply)  # busy again while its follow-up runs
        self._drain_inbox()

    def _reply(self, call: framing.Call, reply: Reply) -> None:
        session = self.session
        assert session is not None
        if session.fenced:
            return
        try:
            schemas.check(f"{call.action}Response", reply.payload, session.protocol)
        except schemas.PayloadError as error:
            log.error("our answer to %s broke its schema: %s", call.action, error.description)
            self._error(call, framing.INTERNAL_ERROR, "the CSMS could not handle it")
            return
        self.send_text(framing.encode(framing.CallResult(call.unique_id, reply.payload)))
        connection_log.station_call(self.gateway.metrics, call.action, "result")
        if reply.after is not None and self.live:
            self.busy = True
            self.gateway.spawn(self._after(reply), f"ocpp-after-{call.action}")

    async def _after(self, reply: Reply) -> None:
        assert reply.after is not None
        try:
            await reply.after()
        except Exception:
            log.exception(
                "follow-up of an answer to %s failed", self.session and self.session.station_id
            )
        self.busy = False
        self._drain_inbox()

    def _drain_inbox(self) -> None:
        while self.inbox and not self.busy and self.live:
            self._handle_call(self.inbox.popleft())
        self._read_on()  # now that the waiting CALLs are fewer

    def _error(self, call: framing.Call, code: str, description: str) -> None:
        """A CALLERROR with ``code`` (1.6's name), as the station's version names it."""
        connection_log.station_call(self.gateway.metrics, call.action, "error")
        if self.session is not None and self.session.protocol == schemas.OCPP201:
            code = framing.code_in_201(code)
        self.send_text(framing.encode(framing.CallErrorFrame(call.unique_id, code, description)))
