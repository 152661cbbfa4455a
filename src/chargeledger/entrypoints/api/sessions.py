"""Charging sessions over HTTP: transactions (their meter values, and closing by
hand one the station lost) and reservations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from chargeledger.application.paging import page_size
from chargeledger.bootstrap import Node
from chargeledger.domain.enums import TransactionStatus
from chargeledger.domain.timestamps import iso_z
from chargeledger.entrypoints.api.errors import ApiError
from chargeledger.entrypoints.api.paging import Cursor, Limit, key_of, paged
from chargeledger.entrypoints.api.preconditions import (
    caught_up,
    found_reading_own_writes,
    token_required,
)


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=255, description="why it is closed by hand")


def sessions_router(node: Node) -> APIRouter:
    router = APIRouter()
    views = node.use_cases.views
    operations = node.use_cases.operation_views
    sessions = node.use_cases.sessions
    api = [Depends(token_required(node.settings.api_token))]

    @router.get("/api/transactions", dependencies=api)
    async def list_transactions(
        request: Request,
        response: Response,
        station: str | None = None,
        id_tag: str | None = None,
        status: TransactionStatus | None = None,
        min_position: int | None = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """Charging sessions in transaction order, filtered by station, id tag and
        status; a page at a time (``Link: <…>; rel="next"``)."""
        await caught_up(node, min_position)
        size = page_size(limit)
        page = await views.transactions(
            size, key_of(cursor), station, id_tag, None if status is None else str(status)
        )
        return paged(request, response, page, size)

    @router.get("/api/transactions/{transaction_id}", dependencies=api)
    async def get_transaction(
        transaction_id: int, min_position: int | None = None
    ) -> dict[str, Any]:
        view = await found_reading_own_writes(
            node,
            min_position,
            lambda: views.transaction(transaction_id),
            ApiError(404, "TransactionNotFound", f"no transaction {transaction_id}"),
        )
        return dict(view)

    @router.get("/api/transactions/{transaction_id}/meter-values", dependencies=api)
    async def get_transaction_meter_values(transaction_id: int) -> dict[str, Any]:
        """The session's energy register and power over time, oldest first: every
        reading while it is short, thinned evenly in its older half once it is long."""
        series = await views.transaction_meter_values(transaction_id)
        if series is None:
            raise ApiError(404, "TransactionNotFound", f"no transaction {transaction_id}")
        return dict(series)

    @router.post("/api/transactions/{transaction_id}/close", dependencies=api)
    async def close_transaction(transaction_id: int, body: CloseBody) -> dict[str, Any]:
        """Close by hand a session the station no longer runs (it lost it, and its
        StopTransaction will never come); recorded as ``TransactionClosed``."""
        view = await views.transaction(transaction_id)
        if view is None:
            raise ApiError(404, "TransactionNotFound", f"no transaction {transaction_id}")
        now = iso_z(node.clock.now())
        position = await sessions.close(view["station_id"], transaction_id, body.reason, now)
        if position is not None:
            await node.projections.wait_until(position, node.settings.read_wait_s)
        closed = await views.transaction(transaction_id)
        assert closed is not None
        return dict(closed)

    @router.get("/api/reservations", dependencies=api)
    async def list_reservations(
        request: Request,
        response: Response,
        station: str | None = None,
        min_position: int | None = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """Reservations (of one station with ``?station=ID``) and their status, in id
        order; a page at a time (``Link: <…>; rel="next"``)."""
        await caught_up(node, min_position)
        size = page_size(limit)
        page = await operations.reservations(size, key_of(cursor), station)
        return paged(request, response, page, size)

    @router.get("/api/reservations/{reservation_id}", dependencies=api)
    async def get_reservation(
        reservation_id: int, min_position: int | None = None
    ) -> dict[str, Any]:
        view = await found_reading_own_writes(
            node,
            min_position,
            lambda: operations.reservation(reservation_id),
            ApiError(404, "ReservationNotFound", f"no reservation {reservation_id}"),
        )
        return dict(view)

    return router
