"""The charging profile library over HTTP: profiles the operator stores by id, with
a name and a description, for set-charging-profile and remote-start to send."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field

from chargeledger.adapters.ocpp.schemas import MAX_INTEGER, MIN_INTEGER
from chargeledger.adapters.ocpp.v16.bodies import ChargingProfile
from chargeledger.application.paging import page_size
from chargeledger.bootstrap import Node
from chargeledger.entrypoints.api.errors import ApiError
from chargeledger.entrypoints.api.paging import Cursor, Limit, key_of, paged
from chargeledger.entrypoints.api.preconditions import token_required

ProfileId = Annotated[
    int,
    Path(
        ge=MIN_INTEGER,
        le=MAX_INTEGER,
        description="a charging profile id: an OCPP integer, as set-charging-profile sends it",
    ),
]


class StoredChargingProfile(ChargingProfile):
    """A charging profile as the library keeps it: the operator's name and description
    beside the OCPP fields (never sent to a station)."""

    name: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    updated_at: datetime | None = Field(
        default=None, description="read-only: when it was stored; ignored when written"
    )


def profiles_router(node: Node) -> APIRouter:
    router = APIRouter()
    operations = node.use_cases.operation_views
    profiles = node.use_cases.profiles
    api = [Depends(token_required(node.settings.api_token))]

    @router.get("/api/charging-profiles", dependencies=api)
    async def list_charging_profiles(
        request: Request, response: Response, limit: Limit = None, cursor: Cursor = None
    ) -> list[dict[str, Any]]:
        size = page_size(limit)
        page = await operations.stored_profiles(size, key_of(cursor))
        return paged(request, response, page, size)

    @router.get("/api/charging-profiles/{profile_id}", dependencies=api)
    async def get_charging_profile(profile_id: ProfileId) -> dict[str, Any]:
        view = await operations.stored_profile(profile_id)
        if view is None:
            raise ApiError(404, "ChargingProfileNotFound", f"no charging profile {profile_id}")
        return view

    @router.put("/api/charging-profiles/{profile_id}", dependencies=api)
    async def put_charging_profile(
        profile_id: ProfileId, body: StoredChargingProfile
    ) -> dict[str, Any]:
        """Store a profile (checked first: a 422 names what is wrong with it). What GET
        answers can be PUT back as it is."""
        profile = body.model_dump(
            mode="json", exclude_none=True, exclude={"name", "description", "updated_at"}
        )
        await profiles.put(profile_id, profile, body.name, body.description)
        view = await operations.stored_profile(profile_id)
        assert view is not None
        return view

    @router.delete("/api/charging-profiles/{profile_id}", status_code=204, dependencies=api)
    async def delete_charging_profile(profile_id: ProfileId) -> Response:
        if not await profiles.remove(profile_id):
            raise ApiError(404, "ChargingProfileNotFound", f"no charging profile {profile_id}")
        return Response(status_code=204)

    return router
