"""``Event``, the base of every domain event. Its own module so that each module of
events (and the catalogue, ``events``) can import it without importing the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""


OMITTED_AT_DEFAULT = "omitted_at_default"


def added_later(default: Any = None) -> Any:
    """A field added to an event type after events of it were stored: ``None`` by
    default (or ``default``, an immutable value), and left out of the stored JSON while
    it has that value, so an event that does not use it is stored (and read back) as
    the very bytes it was before."""
    return field(default=default, metadata={OMITTED_AT_DEFAULT: True})
