"""The HTTP API (FastAPI) and the web page, per CONTRACT.md."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from enum import StrEnum
from importlib import resources
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from chargeledger.adapters.metrics import CONTENT_TYPE
from chargeledger.adapters.ocpp.spec import CommandBody
from chargeledger.adapters.ocpp.v16.bodies import (
    ChargingProfile,
    LocalListEntry,
    UtcDateTime,
    body_schemas,
)
from chargeledger.adapters.ocpp.v16.operations import SPECS
from chargeledger.application.charging_profile_library import (
    ChargingProfileNotFoundError,
)
from chargeledger.application.command_bus import RetriesExhaustedError, stream_of
from chargeledger.application.history import station_as_of
from chargeledger.application.holdings_views import event_view
from chargeledger.application.id_tags import (
    ID_TAGS,
    MAX_ID_TAG_LENGTH,
    InvalidIdTagError,
)
from chargeledger.application.local_lists import (
    LOCAL_LIST_NAMES,
    MAX_LIST_NAME_LENGTH,
    LocalListNotFoundError,
)
from chargeledger.application.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Page,
    page_size,
    scan,
)
from chargeledger.application.ports import RecordedEvent
from chargeledger.application.registry import (
    REGISTRY,
    RegisteredStation,
    RegistryError,
    check_station_id,
    registry_view,
)
from chargeledger.bootstrap import Node, store_failures
from chargeledger.domain.enums import CommandStatus, TransactionStatus
from chargeledger.domain.errors import DomainError, InvalidChargingProfileError
from chargeledger.domain.timestamps import iso_z
from chargeledger.entrypoints import observability
from chargeledger.entrypoints.http_guard import MAX_QUERY_INTEGER
from chargeledger.errors import ChargeledgerError

log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY_CHARACTERS = 200


CommandName = StrEnum(  # type: ignore[misc]  # mypy wants the members literal
    "CommandName", {spec.name.replace("-", "_"): spec.name for spec in SPECS}
)
"""The operations' names, as in ``POST /api/stations/{id}/commands/{name}``."""

BODIES: dict[str, type[CommandBody]] = {spec.name: spec.body for spec in SPECS}


_BODY_SCHEMAS, _NESTED_SCHEMAS = body_schemas(list(BODIES.values()))
_COMMAND_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": _BODY_SCHEMAS}}},
    }
}


class RegisterStationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="1-48 characters of A-Z a-z 0-9 * - _ = : + | @ .")
    password: str | None = Field(
        default=None, min_length=1, description="for HTTP Basic (security profile 1); null: none"
    )


class StationPasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(min_length=1, description="the new password; null removes it")


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=255, description="why it is closed by hand")


class StoredChargingProfile(ChargingProfile):
    """A charging profile as the library keeps it: the operator's name and description
    beside the OCPP fields (never sent to a station)."""

    name: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    updated_at: datetime | None = Field(
        default=None, description="read-only: when it was stored; ignored when written"
    )


class NamedLocalListBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[LocalListEntry] = Field(max_length=10_000)

    @model_validator(mode="after")
    def _once_each(self) -> NamedLocalListBody:
        if len({entry.id_tag for entry in self.entries}) < len(self.entries):
            raise ValueError("each id_tag may appear once in entries")
        return self


ListName = Annotated[str, Path(min_length=1, max_length=MAX_LIST_NAME_LENGTH)]


class IdTagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"] = "Accepted"
    expiry: UtcDateTime | None = Field(
        default=None, description="ISO-8601; without a zone, UTC; from 1970 to 9000"
    )


def _station_id(station_id: str) -> str:
    try:
        check_station_id(station_id)
    except RegistryError as invalid:
        raise ValueError(str(invalid)) from None
    return station_id


StationIdPath = Annotated[str, AfterValidator(_station_id), Path(description="a station id")]


def _validated(name: CommandName, body: dict[str, Any]) -> CommandBody:
    """The body checked against the named command's model; a 422 naming each bad field."""
    try:
        return BODIES[name].model_validate(body)
    except ValidationError as invalid:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in invalid.errors()]
        raise ApiError(422, "ValidationError", _problems(errors)) from None


def _problems(errors: Sequence[Any]) -> str:
    """Each bad field by name, e.g. ``body.connector_id: Input should be a valid integer``."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in errors)


class ApiError(ChargeledgerError):
    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


def create_app(node: Node) -> FastAPI:
    app = FastAPI(title="chargeledger", version="0.1.0")
    _with_nested_schemas(app)
    observability.count_requests(app, node)
    views = node.use_cases.views
    operations = node.use_cases.operation_views
    operator = node.use_cases.operator
    sessions = node.use_cases.sessions
    id_tags = node.use_cases.id_tags
    profiles = node.use_cases.profiles
    local_lists = node.use_cases.local_lists
    token = node.settings.api_token

    async def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        supplied = (authorization or "").removeprefix("Bearer ").strip()
        if not authorization or not hmac.compare_digest(supplied.encode(), token.encode()):
            raise ApiError(401, "Unauthorized", "send Authorization: Bearer <the API token>")

    async def require_token_or_query(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> None:
        """A browser's EventSource cannot send headers: it may pass ``?token=`` instead."""
        supplied = request.query_params.get("token")
        if supplied is not None and hmac.compare_digest(supplied.encode(), token.encode()):
            return
        await require_token(authorization)

    async def caught_up(min_position: int | None) -> None:
        if min_position is None:
            return
        if not await node.projections.wait_until(min_position, node.settings.read_wait_s):
            raise ApiError(
                503, "NotCaughtUp", f"read models are not yet at position {min_position}; retry"
            )

    async def caught_up_to_head() -> None:
        head = await node.store.head_position()
        await node.projections.wait_until(head, node.settings.read_wait_s)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": exc.error, "detail": exc.detail}, exc.status, headers=exc.headers
        )

    @app.exception_handler(RegistryError)
    async def registry_refused(request: Request, exc: RegistryError) -> JSONResponse:
        status = {"ValidationError": 422, "StationNotFound": 404}.get(exc.code, 409)
        return JSONResponse({"error": exc.code, "detail": str(exc)}, status)

    @app.exception_handler(DomainError)
    async def refused(request: Request, exc: DomainError) -> JSONResponse:
        malformed = isinstance(exc, InvalidChargingProfileError)
        return JSONResponse({"error": exc.code, "detail": exc.detail}, 422 if malformed else 409)

    @app.exception_handler(ChargingProfileNotFoundError)
    async def no_profile(request: Request, exc: ChargingProfileNotFoundError) -> JSONResponse:
        return JSONResponse({"error": "ChargingProfileNotFound", "detail": str(exc)}, 422)

    @app.exception_handler(LocalListNotFoundError)
    async def no_local_list(request: Request, exc: LocalListNotFoundError) -> JSONResponse:
        return JSONResponse({"error": "LocalListNotFound", "detail": str(exc)}, 422)

    @app.exception_handler(RetriesExhaustedError)
    async def busy(request: Request, exc: RetriesExhaustedError) -> JSONResponse:
        return JSONResponse(
            {"error": "Busy", "detail": str(exc)}, 503, headers={"Retry-After": "1"}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "NotFound", 405: "MethodNotAllowed"}
        return JSONResponse(
            {"error": names.get(exc.status_code, "HTTPError"), "detail": str(exc.detail)},
            exc.status_code,
        )

    async def store_failed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s: the store failed: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {
                "error": "StoreUnavailable",
                "detail": f"the store could not record it ({exc}); nothing was sent; "
                "retry when /readyz answers 200",
            },
            503,
            headers={"Retry-After": "5"},
        )

    for failure in store_failures():
        app.add_exception_handler(failure, store_failed)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Logged once, by the HttpGuard this app runs behind (Starlette re-raises it).
        return JSONResponse(
            {"error": "InternalError", "detail": "the CSMS could not handle it; see its log"},
            500,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "ValidationError", "detail": _problems(exc.errors())}, status_code=422
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """200 while the process is alive; what it found wrong is in the body."""
        # A liveness probe must answer fast even when the store hangs.
        store = await node.store_probe.check(timeout_s=1.0) if node.store_probe else None
        return {
            "status": "ok",
            "node": node.settings.node_id,
            "store": None if store is None else {"ok": store.ok, "detail": store.detail},
            "quarantined": {
                "count": len(node.quarantine),
                "documents": [found.view() for found in node.quarantine.items()[:100]],
            },
        }

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 when every readiness check of the node passes, else 503 naming what fails."""
        # At once, not in turn: a hung store must not add up every check's timeout.
        verdicts = await asyncio.gather(*(check() for check in node.readiness))
        checks = {v.name: {"ok": v.ok, "detail": v.detail} for v in verdicts}
        failing = {v.name: v.detail for v in verdicts if not v.ok}
        body = {
            "status": "not ready" if failing else "ready",
            "node": node.settings.node_id,
            "checks": checks,
            "failing": failing,
        }
        return JSONResponse(body, 503 if failing else 200)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        """Prometheus text format: every family with HELP and TYPE (README, Metrics)."""
        return Response(await observability.scrape(node), media_type=CONTENT_TYPE)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files("chargeledger.entrypoints").joinpath("static/index.html").read_text()

    # The operator console's script and style, shipped in the package (no CDN).
    app.mount(
        "/console", StaticFiles(packages=[("chargeledger.entrypoints", "static")]), name="console"
    )

    api = [Depends(require_token)]

    @app.get("/api/stations", dependencies=api)
    async def list_stations(
        request: Request,
        response: Response,
        min_position: int | None = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """Stations in id order, a page at a time (``Link: <…>; rel="next"``)."""
        await caught_up(min_position)
        size = page_size(limit)
        return _paged(request, response, await views.stations(size, _key_of(cursor)), size)

    @app.get("/api/stations/{station_id}", dependencies=api)
    async def get_station(
        station_id: StationIdPath, min_position: int | None = None, at: datetime | None = None
    ) -> dict[str, Any]:
        if at is not None:
            if at.tzinfo is None:
                raise ApiError(422, "ValidationError", "at: give a time zone, e.g. ...Z")
            past = await station_as_of(node.store, station_id, at)
            if past is None:
                raise ApiError(404, "StationNotFound", f"no history for station {station_id!r}")
            return past
        await caught_up(min_position)
        view = await views.station(station_id)
        if view is None:
            raise ApiError(404, "StationNotFound", f"no station {station_id!r}")
        return {**view, **await operations.station_extras(station_id)}

    @app.get("/api/events/stream", dependencies=[Depends(require_token_or_query)])
    async def event_stream(
        after: int | None = None,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> StreamingResponse:
        """Server-sent events of the log, live, from ``after`` (default: from now on). A
        reconnecting EventSource sends ``Last-Event-ID`` and goes on from there."""
        if after is None and last_event_id is not None:
            after = _event_id(last_event_id)
        start = await node.store.head_position() if after is None else after

        async def lines() -> AsyncIterator[str]:
            position = start
            yield ": chargeledger event stream\n\n"
            while True:
                batch = await node.store.read_all(position, 500)
                for recorded in batch:
                    position = recorded.position
                    body = json.dumps({"stream_id": recorded.stream_id, **event_view(recorded)})
                    yield f"id: {position}\nevent: {body_type(recorded)}\ndata: {body}\n\n"
                if not batch:
                    await node.store.wait_for_events(position, 15.0)
                    yield ": keep-alive\n\n"

        return StreamingResponse(lines(), media_type="text/event-stream")

    @app.get("/api/stations/{station_id}/events", dependencies=api)
    async def station_events(
        station_id: StationIdPath,
        request: Request,
        response: Response,
        from_version: int = 1,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """The station's event history, oldest first, from ``from_version`` on."""
        start = max(1, from_version)
        if cursor is not None:
            version = _key_of(cursor)
            if version is None or not version.isdigit():
                raise ApiError(422, "ValidationError", "query.cursor: not a cursor of this list")
            start = max(start, int(version) + 1)
        history = await node.store.read_stream(stream_of(station_id), start)
        if not history and start == 1 and not await views.station_known(station_id):
            raise ApiError(404, "StationNotFound", f"no station {station_id!r}")
        size = page_size(limit)
        shown = history[:size]
        more = len(history) > size
        page = Page(
            [event_view(recorded) for recorded in shown],
            str(shown[-1].version) if more and shown else None,
        )
        return _paged(request, response, page, size)

    @app.post(
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
        arguments = _validated(name, body)
        if not await views.station_known(station_id):
            raise ApiError(404, "StationNotFound", f"no station {station_id!r}")
        command_id = _utf8_key(idempotency_key) if idempotency_key else str(uuid.uuid4())
        fields = arguments.model_dump(mode="json", exclude={"ttl_s"})
        return await operator.request(station_id, command_id, name, fields, arguments.ttl_s)

    @app.get("/api/commands", dependencies=api)
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
        await caught_up(min_position)
        size = page_size(limit)
        page = await views.commands(
            size,
            _key_of(cursor),
            station,
            None if status is None else str(status),
            None if name is None else str(name),
        )
        return _paged(request, response, page, size)

    @app.get("/api/commands/{command_id}", dependencies=api)
    async def get_command(command_id: str, min_position: int | None = None) -> dict[str, Any]:
        """A command by its id (its Idempotency-Key). A key merged into another request
        answers with that command's view, ``requested_as`` the key asked for."""
        await caught_up(min_position)
        view = await views.command(command_id)
        if view is None:
            # Read your own writes: a command just accepted (on any node) is in the
            # log; wait for the read models to reach the log's head, then look again.
            await caught_up_to_head()
            view = await views.command(command_id)
        if view is None:
            raise ApiError(404, "CommandNotFound", f"no command {command_id!r}")
        return view

    @app.get("/api/transactions", dependencies=api)
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
        await caught_up(min_position)
        size = page_size(limit)
        page = await views.transactions(
            size, _key_of(cursor), station, id_tag, None if status is None else str(status)
        )
        return _paged(request, response, page, size)

    @app.get("/api/transactions/{transaction_id}", dependencies=api)
    async def get_transaction(
        transaction_id: int, min_position: int | None = None
    ) -> dict[str, Any]:
        await caught_up(min_position)
        view = await views.transaction(transaction_id)
        if view is None:
            # Read your own writes: a session just started is in the log.
            await caught_up_to_head()
            view = await views.transaction(transaction_id)
        if view is None:
            raise ApiError(404, "TransactionNotFound", f"no transaction {transaction_id}")
        return view

    @app.get("/api/transactions/{transaction_id}/meter-values", dependencies=api)
    async def get_transaction_meter_values(transaction_id: int) -> dict[str, Any]:
        """The session's energy register and power over time, oldest first: every
        reading while it is short, thinned evenly in its older half once it is long."""
        series = await views.transaction_meter_values(transaction_id)
        if series is None:
            raise ApiError(404, "TransactionNotFound", f"no transaction {transaction_id}")
        return series

    @app.post("/api/transactions/{transaction_id}/close", dependencies=api)
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
        return closed

    @app.get("/api/reservations", dependencies=api)
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
        await caught_up(min_position)
        size = page_size(limit)
        page = await operations.reservations(size, _key_of(cursor), station)
        return _paged(request, response, page, size)

    @app.get("/api/reservations/{reservation_id}", dependencies=api)
    async def get_reservation(
        reservation_id: int, min_position: int | None = None
    ) -> dict[str, Any]:
        await caught_up(min_position)
        view = await operations.reservation(reservation_id)
        if view is None:
            # Read your own writes: a reservation just requested is in the log.
            await caught_up_to_head()
            view = await operations.reservation(reservation_id)
        if view is None:
            raise ApiError(404, "ReservationNotFound", f"no reservation {reservation_id}")
        return view

    @app.get("/api/charging-profiles", dependencies=api)
    async def list_charging_profiles(
        request: Request, response: Response, limit: Limit = None, cursor: Cursor = None
    ) -> list[dict[str, Any]]:
        size = page_size(limit)
        page = await operations.stored_profiles(size, _key_of(cursor))
        return _paged(request, response, page, size)

    @app.get("/api/charging-profiles/{profile_id}", dependencies=api)
    async def get_charging_profile(profile_id: int) -> dict[str, Any]:
        view = await operations.stored_profile(profile_id)
        if view is None:
            raise ApiError(404, "ChargingProfileNotFound", f"no charging profile {profile_id}")
        return view

    @app.put("/api/charging-profiles/{profile_id}", dependencies=api)
    async def put_charging_profile(profile_id: int, body: StoredChargingProfile) -> dict[str, Any]:
        """Store a profile (checked first: a 422 names what is wrong with it). What GET
        answers can be PUT back as it is."""
        profile = body.model_dump(
            mode="json", exclude_none=True, exclude={"name", "description", "updated_at"}
        )
        await profiles.put(profile_id, profile, body.name, body.description)
        view = await operations.stored_profile(profile_id)
        assert view is not None
        return view

    @app.delete("/api/charging-profiles/{profile_id}", status_code=204, dependencies=api)
    async def delete_charging_profile(profile_id: int) -> Response:
        if not await profiles.remove(profile_id):
            raise ApiError(404, "ChargingProfileNotFound", f"no charging profile {profile_id}")
        return Response(status_code=204)

    @app.get("/api/local-lists", dependencies=api)
    async def list_local_lists(
        request: Request, response: Response, limit: Limit = None, cursor: Cursor = None
    ) -> list[dict[str, Any]]:
        """The named local authorization lists of the CSMS, by name."""
        size = page_size(limit)
        found = await scan(node.documents, LOCAL_LIST_NAMES, limit=size, after=_key_of(cursor))
        return _paged(request, response, found, size)

    @app.get("/api/local-lists/{list_name}", dependencies=api)
    async def get_local_list(list_name: ListName) -> dict[str, Any]:
        doc = await local_lists.get(list_name)
        if doc is None:
            raise ApiError(404, "LocalListNotFound", f"no local list {list_name!r}")
        return doc

    @app.put("/api/local-lists/{list_name}", dependencies=api)
    async def put_local_list(list_name: ListName, body: NamedLocalListBody) -> dict[str, Any]:
        """Store (or replace) a named list; send it to a station with send-local-list
        ``{"update_type": "Full", "list_name": ...}``."""
        return await local_lists.put(
            list_name, [entry.model_dump(mode="json") for entry in body.entries]
        )

    @app.delete("/api/local-lists/{list_name}", status_code=204, dependencies=api)
    async def delete_local_list(list_name: ListName) -> Response:
        if not await local_lists.remove(list_name):
            raise ApiError(404, "LocalListNotFound", f"no local list {list_name!r}")
        return Response(status_code=204)

    @app.get("/api/registry/stations", dependencies=api)
    async def list_registered_stations(
        request: Request, response: Response, limit: Limit = None, cursor: Cursor = None
    ) -> list[dict[str, Any]]:
        """The station registry: ids that may connect, and whether each has a password."""
        size = page_size(limit)
        found = await scan(node.documents, REGISTRY, limit=size, after=_key_of(cursor))
        page = Page(
            [registry_view(RegisteredStation(**doc)) for doc in found.items], found.next_after
        )
        return _paged(request, response, page, size)

    @app.get("/api/registry/stations/{station_id}", dependencies=api)
    async def get_registered_station(station_id: StationIdPath) -> dict[str, Any]:
        registered = await node.registry.get(station_id)
        if registered is None:
            raise ApiError(404, "StationNotFound", f"station {station_id!r} is not registered")
        return registry_view(registered)

    @app.post("/api/registry/stations", status_code=201, dependencies=api)
    async def register_station(body: RegisterStationBody) -> dict[str, Any]:
        """Register a new station; 409 StationAlreadyRegistered if it is there (its
        password is left as it is: change it with PUT .../password)."""
        now = node.clock.now().isoformat()
        await node.registry.add(body.id, body.password, now)
        registered = await node.registry.get(body.id)
        assert registered is not None
        return registry_view(registered)

    @app.put("/api/registry/stations/{station_id}/password", dependencies=api)
    async def set_station_password(
        station_id: StationIdPath, body: StationPasswordBody
    ) -> dict[str, Any]:
        return registry_view(await node.registry.set_password(station_id, body.password))

    @app.delete("/api/registry/stations/{station_id}", status_code=204, dependencies=api)
    async def remove_registered_station(station_id: StationIdPath) -> Response:
        await node.registry.remove(station_id)
        return Response(status_code=204)

    @app.get("/api/id-tags", dependencies=api)
    async def list_id_tags(
        request: Request, response: Response, limit: Limit = None, cursor: Cursor = None
    ) -> list[dict[str, Any]]:
        size = page_size(limit)
        found = await scan(node.documents, ID_TAGS, limit=size, after=_key_of(cursor))
        page = Page([_id_tag_view(doc) for doc in found.items], found.next_after)
        return _paged(request, response, page, size)

    @app.put("/api/id-tags/{id_tag}", dependencies=api)
    async def put_id_tag(
        id_tag: Annotated[str, Path(min_length=1, max_length=MAX_ID_TAG_LENGTH)], body: IdTagBody
    ) -> dict[str, Any]:
        """Add or replace a tag that Authorize and StartTransaction will consult."""
        try:
            return _id_tag_view(await id_tags.put(id_tag, body.status, body.expiry))
        except InvalidIdTagError as invalid:
            raise ApiError(422, "ValidationError", str(invalid)) from None

    @app.delete("/api/id-tags/{id_tag}", status_code=204, dependencies=api)
    async def delete_id_tag(id_tag: str) -> Response:
        if not await id_tags.remove(id_tag):
            raise ApiError(404, "IdTagNotFound", f"no id tag {id_tag!r}")
        return Response(status_code=204)

    return app


def _with_nested_schemas(app: FastAPI) -> None:
    """Put the models the command bodies nest (charging profiles) into the OpenAPI
    components, where the bodies' references point."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(_NESTED_SCHEMAS)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


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


Limit = Annotated[
    int | None,
    Query(description=f"items per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})"),
]
Cursor = Annotated[
    str | None,
    Query(description='the cursor of a Link: <…>; rel="next" header: where the page starts'),
]


def _cursor_of(key: str) -> str:
    """An opaque cursor: clients pass it back, never build it."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _key_of(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "ValidationError", "query.cursor: not a cursor of this list") from None


def _paged(request: Request, response: Response, page: Page, size: int) -> list[dict[str, Any]]:
    """The page's items; the next page named by a Link header (RFC 8288), same query."""
    if page.next_after is not None:
        query = {**request.query_params, "limit": str(size), "cursor": _cursor_of(page.next_after)}
        response.headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return page.items


def _event_id(header: str) -> int:
    """A reconnecting EventSource's ``Last-Event-ID``: a position this stream sent."""
    if not (header.isascii() and header.isdigit() and int(header) <= MAX_QUERY_INTEGER):
        raise ApiError(400, "ValidationError", "header.last-event-id: a position this stream sent")
    return int(header)


def _id_tag_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id_tag": doc["id_tag"], "status": doc["status"], "expiry": doc.get("expiry")}


def body_type(recorded: RecordedEvent) -> str:
    return type(recorded.event).__name__
