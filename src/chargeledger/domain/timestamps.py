"""Times as the log, the documents and OCPP carry them: ISO-8601 text, in UTC. The one
place that turns a time into text and back; the time itself comes from the clock."""

from __future__ import annotations

from datetime import UTC, datetime


def instant(iso: str) -> datetime:
    """An ISO-8601 time; one without a zone is taken as UTC (stations send both)."""
    parsed = datetime.fromisoformat(iso)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_z(at: datetime) -> str:
    """``at`` in UTC as OCPP writes it, ending in ``Z`` (``2026-01-01T00:00:00Z``)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
