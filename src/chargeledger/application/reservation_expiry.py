"""Reservations end at their expiry date: a sweep over the live reservations records
``ReservationEnded`` (expired) for each one past it, through the command handler.

Decisions never wait for the sweep (a reservation past its expiry no longer
refuses anything); the sweep puts the end in the log and the read model. Every
node may sweep: the command id names the reservation and its expiry, so two
nodes, or a repeat after a crash, record it once.
"""

from __future__ import annotations

import asyncio
import logging

from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.holdings_projection import LIVE_RESERVATIONS
from chargeledger.application.ports import Clock, DocumentStore
from chargeledger.domain.commands import ExpireReservation
from chargeledger.domain.errors import DomainError
from chargeledger.domain.timestamps import instant

log = logging.getLogger(__name__)


class ReservationExpiry:
    def __init__(
        self,
        handler: CommandHandler,
        documents: DocumentStore,
        clock: Clock,
        interval_s: float = 1.0,
    ) -> None:
        self._handler = handler
        self._documents = documents
        self._clock = clock
        self._interval_s = interval_s
        self._unreadable: set[str] = set()

    async def expire_due(self) -> int:
        """End every live reservation past its expiry date; how many ended."""
        now = self._clock.now()
        ended = 0
        for doc in await self._documents.list(LIVE_RESERVATIONS):
            try:
                due = instant(doc["expiry_date"]) <= now
                int(doc["reservation_id"])
            except (KeyError, TypeError, ValueError, OverflowError):
                # One bad view must not stop every other reservation from expiring.
                key = str(doc.get("reservation_id"))
                if key not in self._unreadable:
                    self._unreadable.add(key)
                    log.error("reservation view %r cannot be read; skipped: %.200r", key, doc)
                continue
            if not due:
                continue
            command = ExpireReservation(
                command_id=f"reservation/expiry/{doc['reservation_id']}/{doc['expiry_date']}",
                reservation_id=int(doc["reservation_id"]),
                now=now.isoformat(),
            )
            try:
                result = await self._handler.execute(doc["station_id"], command)
            except DomainError as refusal:
                log.warning("reservation %s not expired: %s", doc["reservation_id"], refusal)
                continue
            ended += bool(result.events) and not result.duplicate
        return ended

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.expire_due()
