"""What a station sends, in order. Transaction messages (StartTransaction, MeterValues
of a transaction, StopTransaction) are kept across a lost connection and sent again,
in order, on the next one, as OCPP 1.6 asks (4.7, "Transaction-related messages");
status notifications are dropped with the connection (a station reports its status
afresh after reconnecting).

A transaction started while offline has no transaction id yet: its messages carry a
local reference, replaced by the CSMS's id once the StartTransaction is answered.
A retransmitted message is the same payload (same timestamp, same meter reading), so
the CSMS recognises it.

An OCPP 2.0.1 station's transaction messages are its TransactionEvents (``calls`` is
then ``ocpp.v201.call``): the station numbers its transactions itself, so they need no
resolving, and each event's payload is fixed when it happens (its ``seqNo``, and
``offline`` if the connection was down), whenever it is sent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import websockets
from ocpp.exceptions import OCPPError
from ocpp.v16 import call

DURABLE = ("StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent")

log = logging.getLogger(__name__)


@dataclass
class Message:
    action: str
    payload: dict[str, Any]
    transaction_ref: int | None = None
    attempts: int = 0
    number: int = field(default=0)

    @property
    def is_reading(self) -> bool:
        """A meter reading, the one kind a full outbox may drop."""
        updated = self.action == "TransactionEvent" and self.payload["event_type"] == "Updated"
        return self.action == "MeterValues" or updated

    @property
    def durable(self) -> bool:
        """Kept across a lost connection: a transaction's messages (a reading outside
        a transaction, asked for by TriggerMessage, is not one)."""
        if self.action == "MeterValues":
            return self.transaction_ref is not None
        return self.action in DURABLE


class Outbox:
    def __init__(self, max_durable: int = 10_000, calls: ModuleType = call) -> None:
        self.calls = calls
        """The module whose request classes the messages become (``ocpp.v16.call``)."""
        self._messages: deque[Message] = deque()
        self._numbers = itertools.count(1)
        self._refs = itertools.count(1)
        self.transaction_ids: dict[int, int] = {}
        self.max_durable = max_durable
        self.dropped = 0
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._messages)

    @property
    def durable_count(self) -> int:
        return sum(1 for m in self._messages if m.durable)

    def queued(self, action: str) -> list[dict[str, Any]]:
        """The payloads of the ``action`` messages waiting, oldest first."""
        return [m.payload for m in self._messages if m.action == action]

    def new_transaction_ref(self) -> int:
        return next(self._refs)

    def put(self, action: str, payload: dict[str, Any], transaction_ref: int | None = None) -> None:
        """Queue a message after every other; when the queue of transaction messages is
        full, the oldest meter reading not being sent goes first (a 1.6 MeterValues, a
        2.0.1 TransactionEvent Updated: starts and stops are never dropped)."""
        message = Message(action, payload, transaction_ref, number=next(self._numbers))
        if message.durable and self.durable_count >= self.max_durable:
            for index, queued in enumerate(self._messages):
                if index > 0 and queued.is_reading:
                    del self._messages[index]
                    self.dropped += 1
                    break
        self._messages.append(message)
        self._changed.set()

    async def head(self) -> Message:
        """The message to send next (it stays first until ``done``)."""
        while not self._messages:
            self._changed.clear()
            await self._changed.wait()
        return self._messages[0]

    def done(self, message: Message) -> None:
        """The message was answered (or given up): the next one may go."""
        if self._messages and self._messages[0] is message:
            self._messages.popleft()

    def drop_volatile(self) -> None:
        """The connection is gone: keep only the transaction messages."""
        kept = [m for m in self._messages if m.durable]
        self._messages.clear()
        self._messages.extend(kept)

    def resolve(self, transaction_ref: int, transaction_id: int) -> None:
        self.transaction_ids[transaction_ref] = transaction_id

    def request(self, message: Message) -> Any | None:
        """The OCPP request for a message, with its transaction id filled in; None when
        the transaction it belongs to was never given an id (its start was given up)."""
        payload = dict(message.payload)
        if message.transaction_ref is not None and message.action != "StartTransaction":
            if message.transaction_ref not in self.transaction_ids:
                return None
            payload["transaction_id"] = self.transaction_ids[message.transaction_ref]
        return getattr(self.calls, message.action)(**payload)


async def send_in_order(
    link: Any,
    outbox: Outbox,
    configuration: dict[str, str],
    answered: Callable[[Message, Any], None] | None = None,
) -> None:
    """Send the outbox over ``link`` (a ``ChargePoint``), one message at a time, each
    kept first until answered; ``answered`` hears each answer. No answer in time: the
    same message again. A CALLERROR: again, up to ``TransactionMessageAttempts`` times,
    then given up. A lost connection ends this; what is left waits for the next one."""
    while True:
        message = await outbox.head()
        request = outbox.request(message)
        if request is None:
            outbox.done(message)  # its transaction's start was given up
            continue
        try:
            answer = await link.call(request, suppress=False)
        except TimeoutError:
            continue
        except OCPPError as error:
            message.attempts += 1
            attempts = int(configuration.get("TransactionMessageAttempts", "3"))
            if not message.durable or message.attempts >= attempts:
                log.warning("%s: %s given up: %s", link.id, message.action, error)
                outbox.done(message)
            else:
                retry = float(configuration.get("TransactionMessageRetryInterval", "5"))
                await asyncio.sleep(retry * message.attempts)
            continue
        except (websockets.ConnectionClosed, OSError):
            raise
        except Exception as error:  # a message our own schemas refuse: never sendable
            log.error("%s: %s dropped: %s", link.id, message.action, error)
            outbox.done(message)
            continue
        outbox.done(message)
        if answered is not None:
            answered(message, answer)
