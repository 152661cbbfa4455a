"""The twin's meter documents: readings a node took and has not written yet, and how
they are merged into the stored document.

A node never writes a meter document whole: what it keeps is the readings it took
since its last write (a ``MeterDelta`` per document), merged into the stored document
under the store's row lock (``document_merges``). So when a station moves to another
node, the readings each node took reach the store whichever writes first, and neither
node holds a copy of the document that could go stale: a read is the stored document
with this node's unwritten readings merged on top.

Each delta is numbered, and the stored document keeps, per writer (one per node
process), the number of the last delta merged: a write retried after a failure whose
commit is in doubt merges nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from chargeledger.application.document_shapes import MetersDoc
from chargeledger.domain import meter_series as ms
from chargeledger.domain.json_object import JsonObject
from chargeledger.domain.timestamps import instant

SEQ_NOS_KEPT = 1000
"""OCPP 2.0.1: the newest ``seqNo``s a meter document remembers, to take each once."""
WRITERS_KEPT = 16
"""Writers whose last merged delta a document remembers (each node process is one)."""
UNSENT_KEPT = 32
"""Deltas of one document kept for a retry while the store fails; past that the two
oldest are joined (a retry may then count the readings of one of them twice, if its
write committed after all: a risk taken only after 32 failed writes)."""


def meter_key(station_id: str, connector_id: int, transaction_id: int | None) -> str:
    """Keyed by station too: a station naming another's transaction id touches only its own."""
    if transaction_id is not None:
        return f"{station_id}/tx/{transaction_id}"
    return f"{station_id}/connector/{connector_id}"


@dataclass
class MeterDelta:
    """Readings of one meter document taken by this node and not yet written."""

    number: int
    station_id: str
    connector_id: int
    transaction_id: int | None
    count: int = 0
    """Readings taken outside a numbered message (1.6 MeterValues, 2.0.1's own)."""
    seq_counts: dict[int, int] = field(default_factory=dict)
    """OCPP 2.0.1: readings per ``seqNo``, counted only if the document has not the seqNo."""
    last: JsonObject | None = None
    points: list[ms.MeterPoint] = field(default_factory=list)
    offline: bool = False
    """OCPP 2.0.1: some of them came in a message the station sent while offline."""

    def take(
        self, meter_value: list[JsonObject], seq_no: int | None, offline: bool = False
    ) -> None:
        if seq_no is not None:
            if seq_no in self.seq_counts:
                return  # a repeat of a message already taken here
            self.seq_counts[seq_no] = len(meter_value)
        else:
            self.count += len(meter_value)
        self.offline = self.offline or offline
        if meter_value:
            self.last = meter_value[-1]
        if self.transaction_id is not None:
            for item in meter_value:
                point = ms.meter_point(item)
                if point is not None:
                    self.points = ms.with_point(self.points, point)

    def joined(self, later: MeterDelta) -> MeterDelta:
        """This delta and a later one as one, numbered as the later."""
        joined = MeterDelta(
            later.number, self.station_id, self.connector_id, self.transaction_id, self.count
        )
        joined.seq_counts = {**later.seq_counts, **self.seq_counts}
        joined.offline = self.offline or later.offline
        joined.count += later.count
        joined.last = later.last if later.last is not None else self.last
        joined.points = self.points
        for point in later.points:
            joined.points = ms.with_point(joined.points, point)
        return joined


def merged_meters(stored: JsonObject | None, deltas: list[MeterDelta], writer: str) -> MetersDoc:
    """The stored document with ``writer``'s deltas merged, oldest first; those already
    merged (numbered at most the writer's mark) are passed over. Merging is
    commutative across writers: two nodes' readings add up in either order."""
    first = deltas[0]
    doc: MetersDoc = (
        cast(MetersDoc, dict(stored))
        if stored
        else {
            "station_id": first.station_id,
            "connector_id": first.connector_id,
            "transaction_id": first.transaction_id,
            "count": 0,
            "last": None,
        }
    )
    found = doc.get("writers")
    marks: dict[str, int] = dict(found) if isinstance(found, dict) else {}
    mark = marks.get(writer, 0)
    for delta in sorted(deltas, key=lambda d: d.number):
        if delta.number <= mark:
            continue
        _merge_one(doc, delta)
        mark = delta.number
    marks.pop(writer, None)
    marks[writer] = mark  # the newest writer last: the oldest are forgotten first
    doc["writers"] = dict(list(marks.items())[-WRITERS_KEPT:])
    return doc


def _merge_one(doc: MetersDoc, delta: MeterDelta) -> None:
    count = doc["count"] + delta.count
    if delta.seq_counts:
        taken = list(doc.get("seq_nos") or [])
        seen = set(taken)
        for seq_no, readings in delta.seq_counts.items():
            if seq_no not in seen:
                count += readings
                taken.append(seq_no)
                seen.add(seq_no)
        doc["seq_nos"] = taken[-SEQ_NOS_KEPT:]
    doc["count"] = count
    doc["last"] = _later(doc.get("last"), delta.last)
    if delta.offline:
        doc["offline"] = True
    if delta.points:
        series = [
            ms.MeterPoint(*row)
            for row in doc.get("series") or []
            if isinstance(row, list) and len(row) == 3
        ]
        for point in delta.points:
            series = ms.with_point(series, point)
        doc["series"] = [list(point) for point in series]


def _later(stored: JsonObject | None, taken: JsonObject | None) -> JsonObject | None:
    """The later of two readings by their time: the node that took the older ones may
    write after the node that took the newer. Without a time to compare, the taken."""
    if taken is None:
        return stored
    stored_at, taken_at = _time_of(stored), _time_of(taken)
    if stored_at is not None and taken_at is not None and stored_at > taken_at:
        return stored
    return taken


def _time_of(reading: JsonObject | None) -> datetime | None:
    at = reading.get("timestamp") if isinstance(reading, dict) else None
    if not isinstance(at, str):
        return None
    try:
        return instant(at)
    except ValueError:
        return None


class PendingMeters:
    """This node's readings not yet in the store, per meter document: those being
    written, those whose write failed (kept, numbered, for the next), those taken since."""

    def __init__(self) -> None:
        self.writer = uuid.uuid4().hex[:16]
        self._numbers = 0
        self._open: dict[str, MeterDelta] = {}
        self._in_flight: dict[str, list[MeterDelta]] = {}
        self._unsent: dict[str, list[MeterDelta]] = {}

    def take(
        self,
        station_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_value: list[JsonObject],
        seq_no: int | None,
        offline: bool = False,
    ) -> None:
        key = meter_key(station_id, connector_id, transaction_id)
        delta = self._open.get(key)
        if delta is None:
            self._numbers += 1
            delta = MeterDelta(self._numbers, station_id, connector_id, transaction_id)
            self._open[key] = delta
        delta.take(meter_value, seq_no, offline)

    def unwritten(self, key: str) -> list[MeterDelta]:
        """Every delta of the document not known to be in the store, oldest first."""
        found = [*self._in_flight.get(key, ()), *self._unsent.get(key, ())]
        if (delta := self._open.get(key)) is not None:
            found.append(delta)
        return found

    def __bool__(self) -> bool:
        return bool(self._open or self._unsent)

    def start_write(self) -> dict[str, list[MeterDelta]]:
        """The deltas to write now, per document; the next are taken apart meanwhile."""
        writing: dict[str, list[MeterDelta]] = {k: list(v) for k, v in self._unsent.items()}
        for key, delta in self._open.items():
            writing.setdefault(key, []).append(delta)
        self._unsent, self._open = {}, {}
        self._in_flight = writing
        return writing

    def written(self, keys: list[str] | None = None) -> None:
        """The write committed (of ``keys`` only, when given)."""
        if keys is None:
            self._in_flight = {}
            return
        for key in keys:
            self._in_flight.pop(key, None)

    def failed(self, keys: list[str] | None = None) -> None:
        """The write failed (of ``keys`` only, when given): its deltas go with the next;
        it may have committed, which their numbers tell the merge."""
        for key in list(self._in_flight) if keys is None else keys:
            deltas = self._in_flight.pop(key, [])
            while len(deltas) > UNSENT_KEPT:
                deltas[:2] = [deltas[0].joined(deltas[1])]
            if deltas:
                self._unsent[key] = deltas

    def drop(self, key: str) -> None:
        """A document the store cannot take (quarantined): its deltas go."""
        self._in_flight.pop(key, None)


def view_of(stored: JsonObject | None, deltas: list[MeterDelta], writer: str) -> MetersDoc | None:
    """What a read shows: the stored document with this node's unwritten readings."""
    if not deltas:
        return cast("MetersDoc | None", stored)
    return merged_meters(stored, deltas, writer)
