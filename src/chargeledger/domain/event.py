"""``Event``, the base of every domain event. Its own module so that each module of
events (and the catalogue, ``events``) can import it without importing the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""


OMITTED_WHEN_NONE = "omitted_when_none"


def added_later() -> Any:
    """A field added to an event type after events of it were stored: ``None`` by
    default, and left out of the stored JSON while it is ``None``, so an event that
    does not use it is stored (and read back) as the very bytes it was before."""
    return field(default=None, metadata={OMITTED_WHEN_NONE: True})
