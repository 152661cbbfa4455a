"""The past, replayed from the log: a station's business state as it was at a time."""

from __future__ import annotations

import itertools
from datetime import datetime

from chargeledger.application.command_handler import stream_of
from chargeledger.application.document_shapes import StationAsOf
from chargeledger.application.ports import EventStore
from chargeledger.domain.station import fold


async def station_as_of(store: EventStore, station_id: str, at: datetime) -> StationAsOf | None:
    """Folds the events recorded up to ``at``; ``None`` when the station has no history."""
    history = await store.read_stream(stream_of(station_id))
    if not history:
        return None
    # A prefix of the stream, never a filtered subset: a retried command or another
    # node's clock can give a later version an earlier time, and folding around such a
    # gap would show a state that never existed.
    until = list(
        itertools.takewhile(
            lambda r: (
                r.metadata.recorded_at is not None
                and datetime.fromisoformat(r.metadata.recorded_at) <= at
            ),
            history,
        )
    )
    state = fold(r.event for r in until)
    return {
        "id": station_id,
        "at": at.isoformat(),
        "registration": state.registration,
        "version": until[-1].version if until else 0,
        "position": until[-1].position if until else 0,
        "open_commands": [
            {"command_id": c.command_id, "name": c.name, "status": c.status}
            for c in state.open_commands.values()
        ],
        "open_transactions": [
            {"transaction_id": s.transaction_id, "connector_id": s.connector_id, "id_tag": s.id_tag}
            for s in state.sessions.values()
        ],
        "reservations": [
            {"reservation_id": r.reservation_id, "connector_id": r.connector_id, "id_tag": r.id_tag}
            for r in state.reservations.values()
        ],
    }
