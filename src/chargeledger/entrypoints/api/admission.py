"""Who is admitted, over HTTP: the stations that may connect (the registry, with
their passwords) and the id tags that may charge (the CSMS's id tags, and the named
local lists it sends to stations)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from chargeledger.adapters.ocpp.v16.bodies import LocalListEntry, UtcDateTime
from chargeledger.application.document_shapes import LocalListEntryDoc
from chargeledger.application.id_tags import ID_TAGS, MAX_ID_TAG_LENGTH, InvalidIdTagError
from chargeledger.application.local_lists import LOCAL_LIST_NAMES, MAX_LIST_NAME_LENGTH
from chargeledger.application.paging import Page, page_size, scan
from chargeledger.application.registry import REGISTRY, RegisteredStation, registry_view
from chargeledger.bootstrap import Node
from chargeledger.entrypoints.api.errors import ApiError
from chargeledger.entrypoints.api.paging import Cursor, Limit, key_of, paged
from chargeledger.entrypoints.api.preconditions import token_required
from chargeledger.entrypoints.api.stations import StationIdPath


class RegisterStationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="1-48 characters of A-Z a-z 0-9 * - _ = : + | @ .")
    password: str | None = Field(
        default=None, min_length=1, description="for HTTP Basic (security profile 1); null: none"
    )


class StationPasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(min_length=1, description="the new password; null removes it")


class NamedLocalListBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[LocalListEntry] = Field(max_length=10_000)

    @model_validator(mode="after")
    def _once_each(self) -> NamedLocalListBody:
        if len({entry.id_tag for entry in self.entries}) < len(self.entries):
            raise ValueError("each id_tag may appear once in entries")
        return self


def _list_name(name: str) -> str:
    if name in (".", ".."):  # path segments, not names: no URL could name the list
        raise ValueError("a list name other than . and ..")
    return name


ListName = Annotated[
    str, AfterValidator(_list_name), Path(min_length=1, max_length=MAX_LIST_NAME_LENGTH)
]


class IdTagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"] = "Accepted"
    expiry: UtcDateTime | None = Field(
        default=None, description="ISO-8601; without a zone, UTC; from 1970 to 9000"
    )


def admission_router(node: Node) -> APIRouter:
    router = APIRouter()
    id_tags = node.use_cases.id_tags
    local_lists = node.use_cases.local_lists
    api = [Depends(token_required(node.settings.api_token))]

    @router.get("/api/local-lists", dependencies=api)
    async def list_local_lists(
        request: Request, response: Response, limit: Limit = None, cursor: Cursor = None
    ) -> list[dict[str, Any]]:
        """The named local authorization lists of the CSMS, by name."""
        size = page_size(limit)
        found = await scan(node.documents, LOCAL_LIST_NAMES, limit=size, after=key_of(cursor))
        return paged(request, response, found, size)

    @router.get("/api/local-lists/{list_name}", dependencies=api)
    async def get_local_list(list_name: ListName) -> dict[str, Any]:
        doc = await local_lists.get(list_name)
        if doc is None:
            raise ApiError(404, "LocalListNotFound", f"no local list {list_name!r}")
        return dict(doc)

    @router.put("/api/local-lists/{list_name}", dependencies=api)
    async def put_local_list(list_name: ListName, body: NamedLocalListBody) -> dict[str, Any]:
        """Store (or replace) a named list; send it to a station with send-local-list
        ``{"update_type": "Full", "list_name": ...}``."""
        entries = [cast(LocalListEntryDoc, entry.model_dump(mode="json")) for entry in body.entries]
        return dict(await local_lists.put(list_name, entries))

    @router.delete("/api/local-lists/{list_name}", status_code=204, dependencies=api)
    async def delete_local_list(list_name: ListName) -> Response:
        if not await local_lists.remove(list_name):
            raise ApiError(404, "LocalListNotFound", f"no local list {list_name!r}")
        return Response(status_code=204)

    @router.get("/api/registry/stations", dependencies=api)
    async def list_registered_stations(
        request: Request, response: Response, limit: Limit = None, cursor: Cursor = None
    ) -> list[dict[str, Any]]:
        """The station registry: ids that may connect, and whether each has a password."""
        size = page_size(limit)
        found = await scan(node.documents, REGISTRY, limit=size, after=key_of(cursor))
        page = Page(
            [registry_view(RegisteredStation(**doc)) for doc in found.items], found.next_after
        )
        return paged(request, response, page, size)

    @router.get("/api/registry/stations/{station_id}", dependencies=api)
    async def get_registered_station(station_id: StationIdPath) -> dict[str, Any]:
        registered = await node.registry.get(station_id)
        if registered is None:
            raise ApiError(404, "StationNotFound", f"station {station_id!r} is not registered")
        return dict(registry_view(registered))

    @router.post("/api/registry/stations", status_code=201, dependencies=api)
    async def register_station(body: RegisterStationBody) -> dict[str, Any]:
        """Register a new station; 409 StationAlreadyRegistered if it is there (its
        password is left as it is: change it with PUT .../password)."""
        now = node.clock.now().isoformat()
        await node.registry.add(body.id, body.password, now)
        registered = await node.registry.get(body.id)
        assert registered is not None
        return dict(registry_view(registered))

    @router.put("/api/registry/stations/{station_id}/password", dependencies=api)
    async def set_station_password(
        station_id: StationIdPath, body: StationPasswordBody
    ) -> dict[str, Any]:
        return dict(registry_view(await node.registry.set_password(station_id, body.password)))

    @router.delete("/api/registry/stations/{station_id}", status_code=204, dependencies=api)
    async def remove_registered_station(station_id: StationIdPath) -> Response:
        await node.registry.remove(station_id)
        return Response(status_code=204)

    @router.get("/api/id-tags", dependencies=api)
    async def list_id_tags(
        request: Request, response: Response, limit: Limit = None, cursor: Cursor = None
    ) -> list[dict[str, Any]]:
        size = page_size(limit)
        found = await scan(node.documents, ID_TAGS, limit=size, after=key_of(cursor))
        page = Page([_id_tag_view(doc) for doc in found.items], found.next_after)
        return paged(request, response, page, size)

    @router.put("/api/id-tags/{id_tag}", dependencies=api)
    async def put_id_tag(
        id_tag: Annotated[str, Path(min_length=1, max_length=MAX_ID_TAG_LENGTH)], body: IdTagBody
    ) -> dict[str, Any]:
        """Add or replace a tag that Authorize and StartTransaction will consult."""
        try:
            return _id_tag_view(await id_tags.put(id_tag, body.status, body.expiry))
        except InvalidIdTagError as invalid:
            raise ApiError(422, "ValidationError", str(invalid)) from None

    @router.delete("/api/id-tags/{id_tag}", status_code=204, dependencies=api)
    async def delete_id_tag(id_tag: str) -> Response:
        if not await id_tags.remove(id_tag):
            raise ApiError(404, "IdTagNotFound", f"no id tag {id_tag!r}")
        return Response(status_code=204)

    return router


def _id_tag_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {"id_tag": doc["id_tag"], "status": doc["status"], "expiry": doc.get("expiry")}
