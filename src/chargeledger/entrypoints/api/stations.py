"""The stations as the operator sees them: the list, one station now or as it was
at a past time; and the station id path parameter the other routers share."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import AfterValidator

from chargeledger.application.history import station_as_of
from chargeledger.application.paging import page_size
from chargeledger.application.registry import RegistryError, check_station_id
from chargeledger.bootstrap import Node
from chargeledger.entrypoints.api.errors import ApiError
from chargeledger.entrypoints.api.paging import Cursor, Limit, key_of, paged
from chargeledger.entrypoints.api.preconditions import caught_up, token_required


def _station_id(station_id: str) -> str:
    try:
        check_station_id(station_id)
    except RegistryError as invalid:
        raise ValueError(str(invalid)) from None
    return station_id


def valid_station_id(station_id: str) -> bool:
    """Whether ``StationIdPath`` takes it as it is."""
    try:
        return _station_id(station_id) == station_id
    except ValueError:
        return False


StationIdPath = Annotated[str, AfterValidator(_station_id), Path(description="a station id")]


def stations_router(node: Node) -> APIRouter:
    router = APIRouter()
    views = node.use_cases.views
    operations = node.use_cases.operation_views
    api = [Depends(token_required(node.settings.api_token))]

    @router.get("/api/stations", dependencies=api)
    async def list_stations(
        request: Request,
        response: Response,
        min_position: int | None = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """Stations in id order, a page at a time (``Link: <…>; rel="next"``)."""
        await caught_up(node, min_position)
        size = page_size(limit)
        return paged(request, response, await views.stations(size, key_of(cursor)), size)

    @router.get("/api/stations/{station_id}", dependencies=api)
    async def get_station(
        station_id: StationIdPath, min_position: int | None = None, at: datetime | None = None
    ) -> dict[str, Any]:
        if at is not None:
            if at.tzinfo is None:
                raise ApiError(422, "ValidationError", "at: give a time zone, e.g. ...Z")
            past = await station_as_of(node.store, station_id, at)
            if past is None:
                raise ApiError(404, "StationNotFound", f"no history for station {station_id!r}")
            return {**past, **operations.connectors_as_of(station_id, at)}
        await caught_up(node, min_position)
        view = await views.station(station_id)
        if view is None:
            raise ApiError(404, "StationNotFound", f"no station {station_id!r}")
        return {**view, **await operations.station_extras(station_id)}

    return router
