"""Operator commands over HTTP: ``POST /api/stations/{id}/commands/{name}`` with its
names and bodies derived from the OCPP operation specs (and their OpenAPI schemas),
the Idempotency-Key, and the command views."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Request, Response
from pydantic import ValidationError

from chargeledger.adapters.ocpp import schemas
from chargeledger.adapters.ocpp.spec import CommandBody
from chargeledger.adapters.ocpp.v16.bodies import body_schemas
from chargeledger.adapters.ocpp.v16.operations import SPECS
from chargeledger.adapters.ocpp.v201.operations import SPECS as SPECS_201
from chargeledger.application.paging import page_size
from chargeledger.bootstrap import Node
from chargeledger.domain.enums import CommandStatus
from chargeledger.domain.operations import OPERATIONS
from chargeledger.entrypoints.api.errors import ApiError, problems
from chargeledger.entrypoints.api.paging import Cursor, Limit, key_of, paged
from chargeledger.entrypoints.api.preconditions import (
    caught_up,
    found_reading_own_writes,
    token_required,
)
from chargeledger.entrypoints.api.stations import StationIdPath

MAX_IDEMPOTENCY_KEY_CHARACTERS = 200


BODIES: dict[str, type[CommandBody]] = {
    **{spec.name: spec.body for spec in SPECS_201},
    **{spec.name: spec.body for spec in SPECS},  # an operation of both takes 1.6's body
}
BODIES = {name: BODIES[name] for name in OPERATIONS}  # in the API's order

CommandName = StrEnum(  # type: ignore[misc]  # mypy wants the members literal
    "CommandName", {name.replace("-", "_"): name for name in BODIES}
)
"""The operations' names, as in ``POST /api/stations/{id}/commands/{name}``; a station
that speaks a version without the operation answers 409 ``NotSupportedByProtocol``."""


_BODY_SCHEMAS, _NESTED_SCHEMAS = body_schemas(list(BODIES.values()))
SPOKEN_BY = {
    name: [
        protocol
        for protocol, specs in (("ocpp1.6", SPECS), ("ocpp2.0.1", SPECS_201))
        if any(spec.name == name for spec in specs)
    ]
    for name in BODIES
}
"""The OCPP versions that have each operation, published on its body schema as
``x-ocpp-versions`` so a client (the console) offers a station only what it can say."""
for _name, _schema in zip(BODIES, _BODY_SCHEMAS, strict=True):
    _schema["x-ocpp-versions"] = SPOKEN_BY[_name]
_TRIGGERED = _BODY_SCHEMAS[list(BODIES).index("trigger-message")]["properties"]["requested_message"]
_TRIGGERED["x-ocpp-values"] = {
    protocol: [
        value
        for value in _TRIGGERED["enum"]
        if value in schemas.allowed_values("TriggerMessage", "requestedMessage", protocol)
    ]
    for protocol in (schemas.OCPP16, schemas.OCPP201)
}
"""What trigger-message may ask a station for, by the version it speaks: that
version's own names (the API also takes the other's name of the log upload's status,
but a form offers each station only its own)."""
_COMMAND_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": _BODY_SCHEMAS}}},
    }
}


def _validated(name: CommandName, body: dict[str, Any]) -> CommandBody:
    """The body checked against the named command's model; a 422 naming each bad field."""
    try:
        return BODIES[name].model_validate(body)
    except ValidationError as invalid:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in invalid.errors()]
        raise ApiError(422, "ValidationError", problems(errors)) from None


def with_nested_schemas(app: FastAPI) -> None:
    """Put the models the command bodies nest (charging profiles) into the OpenAPI
    components, where the bodies' references point."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(_NESTED_SCHEMAS)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def commands_router(node: Node) -> APIRouter:
    router = APIRouter()
    views = node.use_cases.views
    api = [Depends(token_required(node.settings.api_token))]

    @router.post(
        "/api/stations/{station_id}/commands/{name}",
        status_code=202,
        dependencies=api,
        openapi_extra=_COMMAND_BODY_SCHEMA,
    )
    async def post_command(
        station_id: StationIdPath,
        name: CommandName,
        body: Annotated[dict[str, Any], Body()],
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,
                # HTTP hands the header over byte by byte (ISO-8859-1): four bytes per
                # character at most; the 200 characters are counted once decoded.
                max_length=4 * MAX_IDEMPOTENCY_KEY_CHARACTERS,
                pattern=r"^[^/]+$",
                description="Any text without '/' (the CSMS's own ids use it) or control "
                "characters, in UTF-8, up to 200 characters; a repeat with the same body "
                "returns the first command, with another body is a 409 IdempotencyKeyReused",
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Decide a station command; the dispatcher sends it once it is recorded."""
        return await request_command(node, station_id, name, body, idempotency_key)

    @router.get("/api/commands", dependencies=api)
    async def list_commands(
        request: Request,
        response: Response,
        station: str | None = None,
        status: CommandStatus | None = None,
        name: CommandName | None = None,
        min_position: int | None = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """Command views, newest first (by when they were requested), filtered by
        station, status and name; a page at a time (``Link: <…>; rel="next"``)."""
        await caught_up(node, min_position)
        size = page_size(limit)
        page = await views.commands(
            size,
            key_of(cursor),
            station,
            None if status is None else str(status),
            None if name is None else str(name),
        )
        return paged(request, response, page, size)

    @router.get("/api/commands/{command_id}", dependencies=api)
    async def get_command(command_id: str, min_position: int | None = None) -> dict[str, Any]:
        """A command by its id (its Idempotency-Key). A key merged into another request
        answers with that command's view, ``requested_as`` the key asked for."""
        view = await found_reading_own_writes(
            node,
            min_position,
            lambda: views.command(command_id),
            ApiError(404, "CommandNotFound", f"no command {command_id!r}"),
        )
        return dict(view)

    return router


async def request_command(
    node: Node,
    station_id: str,
    name: CommandName,
    body: dict[str, Any],
    idempotency_key: str | None,
) -> dict[str, Any]:
    """What ``POST /api/stations/{id}/commands/{name}`` does once its parameters are
    valid: the body checked, the station looked up, the command decided, its view."""
    arguments = _validated(name, body)
    if not await node.use_cases.views.station_known(station_id):
        raise ApiError(404, "StationNotFound", f"no station {station_id!r}")
    command_id = _utf8_key(idempotency_key) if idempotency_key else str(uuid.uuid4())
    fields = said(arguments)
    view = await node.use_cases.operator.request(
        station_id, command_id, name, fields, arguments.ttl_s
    )
    return dict(view)


def said(arguments: CommandBody) -> dict[str, Any]:
    """A body's arguments as the command is requested with (``ttl_s`` apart), a field
    added later left out while unset (``CommandBody.added_later``)."""
    fields = arguments.model_dump(mode="json", exclude={"ttl_s"})
    return {k: v for k, v in fields.items() if v is not None or k not in arguments.added_later}


def _utf8_key(header: str) -> str:
    """The Idempotency-Key as the client wrote it: HTTP hands header bytes over as
    ISO-8859-1; a client sending UTF-8 (curl, browsers, httpx with bytes) means UTF-8."""
    try:
        key = header.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise ApiError(
            422, "ValidationError", "header.idempotency-key: send the key in UTF-8"
        ) from None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise ApiError(422, "ValidationError", "header.idempotency-key: no control characters")
    if len(key) > MAX_IDEMPOTENCY_KEY_CHARACTERS:
        raise ApiError(
            422,
            "ValidationError",
            f"header.idempotency-key: at most {MAX_IDEMPOTENCY_KEY_CHARACTERS} characters, "
            f"got {len(key)}",
        )
    return key
