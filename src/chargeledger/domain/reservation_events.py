"""Reservations, business decided with a command's outcome or a station message:
``ReservationConfirmed``, ``ReservationChangeRefused``, ``ReservationEnded``."""

from __future__ import annotations

from dataclasses import dataclass

from chargeledger.domain.enums import ReservationEndReason
from chargeledger.domain.event import Event


@dataclass(frozen=True, kw_only=True)
class ReservationConfirmed(Event):
    """The station accepted the reservation (or its change) that ``confirmed_by`` sent."""

    reservation_id: int
    connector_id: int
    id_tag: str
    expiry_date: str
    confirmed_by: str


@dataclass(frozen=True, kw_only=True)
class ReservationChangeRefused(Event):
    """The station did not take a change of a reservation it holds; the old one stands."""

    reservation_id: int
    refused_by: str


@dataclass(frozen=True, kw_only=True)
class ReservationEnded(Event):
    """``reason``: rejected (the station refused it), failed (it never reached the
    station, or its fate is unknown), cancelled, used (by ``transaction_id``), expired."""

    reservation_id: int
    connector_id: int
    reason: ReservationEndReason
    transaction_id: int | None = None
    detail: str = ""


RESERVATION_EVENTS: tuple[type[Event], ...] = (
    ReservationConfirmed,
    ReservationChangeRefused,
    ReservationEnded,
)
