"""``Event``, the base of every domain event. Its own module so that each module of
events (and the catalogue, ``events``) can import it without importing the others."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""
