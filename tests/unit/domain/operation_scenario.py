"""Builders for given/when/then tests of reservations, charging profiles, the local list
and the other operations of the six profiles."""

from __future__ import annotations

from typing import Any

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.configuration import NO_CONFIGURATION, ConfigurationSnapshot
from chargeledger.domain.remote_start_policy import NO_SNAPSHOT, TwinSnapshot
from tests.unit.domain.scenario import AT, LATER

UNTIL = "2026-01-01T02:00:00+00:00"
"""A reservation's expiry date, two hours after ``AT``."""
PAST_UNTIL = "2026-01-01T02:00:01+00:00"


def common(command_id: str, at: str = AT, snapshot: TwinSnapshot = NO_SNAPSHOT) -> dict[str, Any]:
    return {"command_id": command_id, "requested_at": at, "expires_at": LATER, "twin": snapshot}


def reserve(
    command_id: str = "res-1",
    connector: int = 1,
    tag: str = "TAG",
    until: str = UNTIL,
    reservation_id: int = 1,
    at: str = AT,
    snapshot: TwinSnapshot = NO_SNAPSHOT,
) -> c.RequestReserveNow:
    return c.RequestReserveNow(
        reservation_id=reservation_id,
        connector_id=connector,
        expiry_date=until,
        id_tag=tag,
        **common(command_id, at, snapshot),
    )


def reserve_requested(
    command_id: str = "res-1",
    connector: int = 1,
    tag: str = "TAG",
    until: str = UNTIL,
    reservation_id: int = 1,
    replaces: bool = False,
) -> e.ReserveNowRequested:
    return e.ReserveNowRequested(
        command_id=command_id,
        requested_at=AT,
        expires_at=LATER,
        reservation_id=reservation_id,
        connector_id=connector,
        expiry_date=until,
        id_tag=tag,
        replaces=replaces,
    )


def confirmed(
    command_id: str = "res-1",
    connector: int = 1,
    tag: str = "TAG",
    until: str = UNTIL,
    reservation_id: int = 1,
) -> e.ReservationConfirmed:
    return e.ReservationConfirmed(
        reservation_id=reservation_id,
        connector_id=connector,
        id_tag=tag,
        expiry_date=until,
        confirmed_by=command_id,
    )


def reservation(
    command_id: str = "res-1",
    connector: int = 1,
    tag: str = "TAG",
    until: str = UNTIL,
    reservation_id: int = 1,
) -> list[e.Event]:
    """A reservation the station accepted."""
    return [
        reserve_requested(command_id, connector, tag, until, reservation_id),
        e.CommandAccepted(command_id, {"status": "Accepted"}),
        confirmed(command_id, connector, tag, until, reservation_id),
    ]


def cancel(command_id: str = "cancel-1", reservation_id: int = 1) -> c.RequestCancelReservation:
    return c.RequestCancelReservation(reservation_id=reservation_id, **common(command_id))


def ended(
    reason: str, reservation_id: int = 1, connector: int = 1, **more: Any
) -> e.ReservationEnded:
    return e.ReservationEnded(
        reservation_id=reservation_id, connector_id=connector, reason=reason, **more
    )


def set_profile(
    profile: dict[str, Any], connector: int = 0, command_id: str = "prof-1"
) -> c.RequestSetChargingProfile:
    return c.RequestSetChargingProfile(
        connector_id=connector, cs_charging_profiles=profile, **common(command_id)
    )


def local_list_update(
    registry: dict[str, dict[str, Any]],
    update_type: str = "Full",
    command_id: str = "list-1",
    version: int | None = None,
) -> c.RequestSendLocalList:
    return c.RequestSendLocalList(
        update_type=update_type, registry=registry, list_version=version, **common(command_id)
    )


def change_configuration(
    key: str, value: str = "1", snapshot: ConfigurationSnapshot = NO_CONFIGURATION
) -> c.RequestChangeConfiguration:
    return c.RequestChangeConfiguration(
        key=key, value=value, configuration=snapshot, **common(f"cfg-{key}-{value}")
    )
