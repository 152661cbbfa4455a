"""The twin service: telemetry in, the station mirror out. Never touches a stream (I5).

Updates land in memory at once; a writer flushes the changed twins in one
transaction per interval, so ten thousand heartbeats do not mean ten thousand
commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from dataclasses import replace
from datetime import datetime
from typing import cast

from chargeledger.application.document_merges import DocumentMerge, Merge, write_merging
from chargeledger.application.document_shapes import MetersDoc
from chargeledger.application.meter_documents import (
    MeterDelta,
    PendingMeters,
    merged_meters,
    meter_key,
    view_of,
)
from chargeledger.application.ports import (
    NO_CHANGE_READ,
    ChangedDocuments,
    Clock,
    DocumentStore,
    DocumentWrite,
)
from chargeledger.application.quarantine import QUARANTINE, Quarantine
from chargeledger.application.telemetry_changes import TelemetryChanges
from chargeledger.application.twin_documents import twin_from_doc, twin_to_doc
from chargeledger.domain import station_reports as r
from chargeledger.domain import twin as t
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.timestamps import instant, iso_z

log = logging.getLogger(__name__)

TWINS = "twin"
METERS = "meter"
REFRESH_PAGE = 500
"""Twins read per page by a refresh; the event loop runs between pages."""
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
        self._pending = PendingMeters()
        """Meter readings taken and not yet merged into the stored documents."""
        self._flushing = asyncio.Lock()
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
        offline: bool = False,
    ) -> None:
        """Meter readings are telemetry (ARCHITECTURE.md flow 1): they never move the
        station's stream; a session's energy is decided by its Start and Stop. Readings
        of an OCPP 2.0.1 message already taken (its ``seq_no``) are not taken again;
        those of one sent ``offline`` mark the document so.

        They wait for the next flush beside the document, which merges them into the
        stored one (``meter_documents``): nothing is read here, and a station moving
        between nodes loses none of the readings either node took."""
        self._pending.take(station_id, connector_id, transaction_id, meter_value, seq_no, offline)
        self.changes.touched(station_id)

    async def connector_meters(self, station_id: str, connector_id: int) -> MetersDoc | None:
        """The readings a connector sent outside a transaction: their count and the last."""
        return await self._meters_of(meter_key(station_id, connector_id, None))

    async def meters(self, station_id: str, transaction_id: int) -> MetersDoc | None:
        return await self._meters_of(meter_key(station_id, 0, transaction_id))

    async def _meters_of(self, key: str) -> MetersDoc | None:
        """As stored, with the readings taken here and not yet written: never a copy
        kept from earlier, which another node's readings would have made stale."""
        stored = await self._documents.get(METERS, key)
        return view_of(stored, self._pending.unwritten(key), self._pending.writer)

    def _update(self, station_id: str, change: Callable[[t.StationTwin], t.StationTwin]) -> None:
        current = self._twins.get(station_id) or t.StationTwin(station_id=station_id)
        self._twins[station_id] = change(current)
        self._dirty.add(station_id)
        self.changes.touched(station_id)

    async def flush(self) -> int:
        """Write the changed twins and merge the readings taken since the last flush,
        in one transaction; one flush at a time (the merges' bookkeeping, and a store
        without locked merges reads and writes them in turn)."""
        async with self._flushing:
            return await self._flush()

    async def _flush(self) -> int:
        dirty, self._dirty = self._dirty, set()
        if not dirty and not self._pending:
            return 0
        writes = [
            DocumentWrite(TWINS, sid, twin_to_doc(twin, self.last_message_at(sid)))
            for sid in sorted(dirty)
            if (twin := self._twins.get(sid)) is not None
        ]
        if isinstance(self._documents, ChangedDocuments):
            self._recheck.update(dirty)
        writer = self._pending.writer
        merges = [
            DocumentMerge(METERS, key, _merging(deltas, writer))
            for key, deltas in sorted(self._pending.start_write().items())
        ]
        try:
            await write_merging(self._documents, writes, merges)
        except ValueError:
            # A document the store cannot take (bad text, say): write them one by one,
            # so that one station's data never keeps every other's from being saved.
            return await self._write_one_by_one(writes, merges, dirty)
        except BaseException:
            self._dirty |= dirty
            self._pending.failed()
            raise
        self._pending.written()
        return len(writes) + len(merges)

    async def _write_one_by_one(
        self, writes: list[DocumentWrite], merges: list[DocumentMerge], dirty: set[str]
    ) -> int:
        written = 0
        each: list[tuple[list[DocumentWrite], list[DocumentMerge]]] = [
            *(([w], []) for w in writes),
            *(([], [m]) for m in merges),
        ]
        for one_write, one_merge in each:
            write = (one_write or one_merge)[0]
            try:
                await write_merging(self._documents, one_write, one_merge)
            except ValueError as error:
                self.quarantine.add(write.model, write.key, f"not saved: {error!r}"[:300])
                if one_merge:
                    self._pending.drop(write.key)
                continue
            except BaseException:
                self._dirty |= dirty
                self._pending.failed()
                raise
            if one_merge:
                self._pending.written([write.key])
            written += 1
        return written

    async def run_writer(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._flush_interval_s)
                await self.flush()
        finally:
            await asyncio.shield(self.flush())


def _merging(deltas: list[MeterDelta], writer: str) -> Merge:
    def merge(stored: JsonObject | None) -> JsonObject:
        return cast(JsonObject, merged_meters(stored, deltas, writer))

    return merge
