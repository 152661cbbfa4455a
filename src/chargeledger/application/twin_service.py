"""The twin service: telemetry in, the station mirror out. Never touches a stream (I5).

Updates land in memory at once; a writer flushes the changed twins in one
transaction per interval, so ten thousand heartbeats do not mean ten thousand
commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from dataclasses import replace
from datetime import datetime
from typing import cast

from chargeledger.application.document_shapes import MetersDoc
from chargeledger.application.ports import (
    NO_CHANGE_READ,
    ChangedDocuments,
    Clock,
    DocumentStore,
    DocumentWrite,
)
from chargeledger.application.quarantine import QUARANTINE, Quarantine
from chargeledger.application.telemetry_changes import TelemetryChanges
from chargeledger.application.twin_documents import series_with, twin_from_doc, twin_to_doc
from chargeledger.domain import station_reports as r
from chargeledger.domain import twin as t
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.timestamps import instant, iso_z

log = logging.getLogger(__name__)

TWINS = "twin"
METERS = "meter"
REFRESH_PAGE = 500
"""Twins read per page by a refresh; the event loop runs between pages."""
MAX_METERS_IN_MEMORY = 200_000
"""Meter telemetry: one document per transaction (its key) or per connector outside one."""
FLUSH_INTERVAL_S = 0.5
"""Seconds between two writes of the changed twins (``Settings.twin_flush_interval_s``)."""


class TwinService:
    def __init__(
        self,
        documents: DocumentStore,
        clock: Clock,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        quarantine: Quarantine | None = None,
    ) -> None:
        self._documents = documents
        self._clock = clock
        self._last_message: dict[str, datetime] = {}
        """Kept beside the twins, not in them: it changes with every frame."""
        self.quarantine = Quarantine() if quarantine is None else quarantine
        self._twins: dict[str, t.StationTwin] = {}
        self._dirty: set[str] = set()
        self._meters: OrderedDict[str, MetersDoc] = OrderedDict()
        self._dirty_meters: set[str] = set()
        self._flush_interval_s = flush_interval_s
        self._change_cursor = NO_CHANGE_READ
        self._recheck: set[str] = set()
        """Stations whose stored twin is to be read again once not held here (refresh)."""
        self.changes = TelemetryChanges()
        """Which twins changed (not heartbeats): the console's stream follows it."""

    async def load(self, shared: bool = False) -> None:
        """The last persisted twins; nobody is connected to a node that just started,
        unless other nodes share the store (``shared``): then they stay as stored.

        A twin that cannot be read is quarantined (copied to the ``quarantine``
        documents, logged, counted) and the others load: telemetry comes back with the
        station's next message, a node that will not start never does."""
        set_aside: list[DocumentWrite] = []
        async for doc in self._stored_twins():
            try:
                twin = twin_from_doc(doc)
                twin = twin if shared else replace(twin, connected=False)
            except Exception as error:
                key = str(doc.get("station_id", "?")) if isinstance(doc, dict) else "?"
                found = self.quarantine.add(TWINS, key, error)
                set_aside.append(
                    DocumentWrite(QUARANTINE, f"{TWINS}/{key}", {**found.view(), "doc": doc})
                )
                continue
            self._twins[twin.station_id] = twin
            self._took_last_message(doc)
            if not shared:
                self._dirty.add(twin.station_id)
        if set_aside:
            try:
                await self._documents.write(set_aside)
            except Exception:
                log.exception("could not copy %d quarantined twins aside", len(set_aside))

    async def _stored_twins(self) -> AsyncIterator[JsonObject]:
        """Every stored twin; on a store that marks changes, a page at a time, and the
        following refreshes read on from there instead of from the start."""
        if not isinstance(self._documents, ChangedDocuments):
            for doc in await self._documents.list(TWINS):
                yield doc
            return
        while True:
            page, self._change_cursor = await self._documents.changed_since(
                TWINS, self._change_cursor, REFRESH_PAGE
            )
            for _, doc in page:
                yield doc
            if len(page) < REFRESH_PAGE:
                return
            await asyncio.sleep(0)

    async def refresh(self, held_here: Collection[str]) -> int:
        """Take the stored twins of stations connected to other nodes (their holders
        write them); those held here, or changed here and not yet written, stay.

        On a store that marks changes, only the twins written since the last refresh
        are read, a page at a time, giving the event loop back between pages: the
        work follows the cluster's changes, not its size."""
        if not isinstance(self._documents, ChangedDocuments):
            return self._take_all(await self._documents.list(TWINS), held_here, remember=False)
        taken = await self._take_rechecked(self._documents, held_here)
        while True:
            page, self._change_cursor = await self._documents.changed_since(
                TWINS, self._change_cursor, REFRESH_PAGE
            )
            taken += self._take_all((doc for _, doc in page), held_here)
            if len(page) < REFRESH_PAGE:
                return taken
            await asyncio.sleep(0)

    def _take_all(
        self, docs: Iterable[JsonObject], held_here: Collection[str], remember: bool = True
    ) -> int:
        taken = 0
        for doc in docs:
            station_id = doc["station_id"]
            if station_id in held_here or station_id in self._dirty:
                if remember:  # written elsewhere while ours: looked at again once not
                    self._recheck.add(station_id)
                continue
            self._recheck.discard(station_id)
            twin = twin_from_doc(doc)
            if twin != self._twins.get(station_id):
                self.changes.touched(station_id)
            self._twins[station_id] = twin
            self._took_last_message(doc)
            taken += 1
        return taken

    async def _take_rechecked(self, documents: DocumentStore, held_here: Collection[str]) -> int:
        """Twins passed over while held or changed here, and twins this node wrote since
        (a write over a newer holder's is refused by the store): once no longer held
        here, what is stored for them is taken, as it will not come as a change."""
        free = [sid for sid in self._recheck if sid not in held_here and sid not in self._dirty]
        self._recheck.difference_update(free)
        docs = await asyncio.gather(*(documents.get(TWINS, sid) for sid in free))
        return self._take_all((doc for doc in docs if doc is not None), held_here)

    def get(self, station_id: str) -> t.StationTwin | None:
        return self._twins.get(station_id)

    def all(self) -> list[t.StationTwin]:
        return [self._twins[k] for k in sorted(self._twins)]

    def connected(self, station_id: str, epoch: int, protocol: str | None = None) -> None:
        self._update(station_id, lambda twin: t.connected(twin, epoch, protocol))

    def message_received(self, station_id: str) -> None:
        """Any message from the station (a CALL, an answer): only its time is kept, in a
        plain dict and saved with the twin's next write, as this runs for every frame."""
        self._last_message[station_id] = self._clock.now()
        self._dirty.add(station_id)

    def last_message_at(self, station_id: str) -> str | None:
        """When the station's last message of any kind arrived (ISO-8601, UTC)."""
        at = self._last_message.get(station_id)
        return None if at is None else iso_z(at)

    def _took_last_message(self, doc: JsonObject) -> None:
        stored = doc.get("last_message_at")
        if isinstance(stored, str):
            try:
                at = instant(stored)
            except ValueError:
                return
            self._last_message[str(doc["station_id"])] = at

    def disconnected(self, station_id: str, epoch: int) -> None:
        self._update(station_id, lambda twin: t.disconnected(twin, epoch))

    def heartbeat(self, station_id: str, at: str) -> None:
        current = self._twins.get(station_id) or t.StationTwin(station_id=station_id)
        self._twins[station_id] = t.heartbeat(current, at)
        self._dirty.add(station_id)

    def status_notified(
        self,
        station_id: str,
        connector_id: int,
        status: str,
        error_code: str,
        info: str | None = None,
        vendor_error_code: str | None = None,
        timestamp: str | None = None,
        received_at: str | None = None,
    ) -> None:
        self._update(
            station_id,
            lambda twin: t.status_notified(
                twin,
                connector_id,
                status,
                error_code,
                info,
                vendor_error_code,
                timestamp,
                received_at,
            ),
        )

    def evse_status_notified(
        self, station_id: str, evse_id: int, connector_id: int, status: str, timestamp: str, at: str
    ) -> None:
        self._update(
            station_id,
            lambda twin: t.evse_status_notified(twin, evse_id, connector_id, status, timestamp, at),
        )

    def booted(self, station_id: str, at: str) -> None:
        self._update(station_id, lambda twin: t.booted(twin, at))

    def diagnostics_status_notified(
        self, station_id: str, status: str, at: str | None = None
    ) -> None:
        self._update(station_id, lambda twin: t.diagnostics_status_notified(twin, status, at))

    def firmware_status_notified(self, station_id: str, status: str, at: str | None = None) -> None:
        self._update(station_id, lambda twin: t.firmware_status_notified(twin, status, at))

    def data_transferred(
        self,
        station_id: str,
        vendor_id: str,
        message_id: str | None,
        data: str | None,
        answer: str,
        at: str,
    ) -> None:
        """A DataTransfer from the station, and what we answered."""
        self._report(
            station_id, lambda rs: r.data_transferred(rs, vendor_id, message_id, data, answer, at)
        )

    def device_model_reported(self, station_id: str, reported: list[r.VariableReport]) -> None:
        """Variables an OCPP 2.0.1 station reported (NotifyReport)."""
        self._report(station_id, lambda rs: r.variables_reported(rs, reported))

    def noticed(self, station_id: str, notices: list[r.NoticeReport]) -> None:
        """Events an OCPP 2.0.1 station notified (NotifyEvent, SecurityEventNotification)."""
        self._report(station_id, lambda rs: r.noticed(rs, notices))

    def authorized(self, station_id: str, id_tag: str, status: str, at: str) -> None:
        """An Authorize from the station, and the verdict it got."""
        self._report(station_id, lambda rs: r.authorized(rs, id_tag, status, at))

    def _report(
        self, station_id: str, change: Callable[[r.StationReports], r.StationReports]
    ) -> None:
        self._update(station_id, lambda twin: t.reported(twin, change))

    async def meter_values(
        self,
        station_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_value: list[JsonObject],
        seq_no: int | None = None,
    ) -> None:
        """Meter readings are telemetry (ARCHITECTURE.md flow 1): they never move the
        station's stream; a session's energy is decided by its Start and Stop. Readings
        of an OCPP 2.0.1 message already taken (its ``seq_no``) are not taken again."""
        key = meter_key(station_id, connector_id, transaction_id)
        current: MetersDoc = (
            self._meters.get(key)
            or await self._stored_meters(key)
            or {
                "station_id": station_id,
                "connector_id": connector_id,
                "transaction_id": transaction_id,
                "count": 0,
                "last": None,
            }
        )
        if seq_no is not None:
            taken = current.get("seq_nos") or []
            if seq_no in taken:
                return
            current = {**current, "seq_nos": [*taken, seq_no][-1000:]}  # the newest 1,000
        if meter_value:
            current = {**current, "count": current["count"] + len(meter_value)}
            current["last"] = meter_value[-1]
            if transaction_id is not None:
                current["series"] = series_with(current.get("series"), meter_value)
        self._meters[key] = current
        self._meters.move_to_end(key)
        self._dirty_meters.add(key)
        self.changes.touched(station_id)
        while len(self._meters) > MAX_METERS_IN_MEMORY:
            # The least recently read; it is stored, or written at the next flush first.
            oldest = next(iter(self._meters))
            if oldest in self._dirty_meters:
                break
            del self._meters[oldest]

    async def connector_meters(self, station_id: str, connector_id: int) -> MetersDoc | None:
        """The readings a connector sent outside a transaction: their count and the last."""
        key = meter_key(station_id, connector_id, None)
        return self._meters.get(key) or await self._stored_meters(key)

    async def meters(self, station_id: str, transaction_id: int) -> MetersDoc | None:
        key = meter_key(station_id, 0, transaction_id)
        return self._meters.get(key) or await self._stored_meters(key)

    async def _stored_meters(self, key: str) -> MetersDoc | None:
        return cast("MetersDoc | None", await self._documents.get(METERS, key))

    def _update(self, station_id: str, change: Callable[[t.StationTwin], t.StationTwin]) -> None:
        current = self._twins.get(station_id) or t.StationTwin(station_id=station_id)
        self._twins[station_id] = change(current)
        self._dirty.add(station_id)
        self.changes.touched(station_id)

    async def flush(self) -> int:
        dirty, self._dirty = self._dirty, set()
        meters, self._dirty_meters = self._dirty_meters, set()
        if not dirty and not meters:
            return 0
        writes = [
            DocumentWrite(TWINS, sid, twin_to_doc(twin, self.last_message_at(sid)))
            for sid in sorted(dirty)
            if (twin := self._twins.get(sid)) is not None
        ]
        if isinstance(self._documents, ChangedDocuments):
            self._recheck.update(dirty)
        writes += [DocumentWrite(METERS, key, self._meters[key]) for key in sorted(meters)]
        try:
            await self._documents.write(writes)
        except ValueError:
            # A document the store cannot take (bad text, say): write them one by one,
            # so that one station's data never keeps every other's from being saved.
            return await self._write_one_by_one(writes, dirty, meters)
        except BaseException:
            self._dirty |= dirty
            self._dirty_meters |= meters
            raise
        return len(writes)

    async def _write_one_by_one(
        self, writes: list[DocumentWrite], dirty: set[str], meters: set[str]
    ) -> int:
        written = 0
        for write in writes:
            try:
                await self._documents.write([write])
            except ValueError as error:
                self.quarantine.add(write.model, write.key, f"not saved: {error!r}"[:300])
                continue
            except BaseException:
                self._dirty |= dirty
                self._dirty_meters |= meters
                raise
            written += 1
        return written

    async def run_writer(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._flush_interval_s)
                await self.flush()
        finally:
            await asyncio.shield(self.flush())


def meter_key(station_id: str, connector_id: int, transaction_id: int | None) -> str:
    """Keyed by station too: a station naming another's transaction id touches only its own."""
    if transaction_id is not None:
        return f"{station_id}/tx/{transaction_id}"
    return f"{station_id}/connector/{connector_id}"
