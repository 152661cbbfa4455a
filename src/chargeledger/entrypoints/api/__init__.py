"""The HTTP API (FastAPI) and the web page, per CONTRACT.md: the app factory, which
puts the routers together in the order of the OpenAPI document, and the error
handlers that answer every refusal as ``{"error": ..., "detail": ...}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chargeledger.application.charging_profile_library import ChargingProfileNotFoundError
from chargeledger.application.command_handler import RetriesExhaustedError
from chargeledger.application.local_lists import LocalListNotFoundError
from chargeledger.application.registry import RegistryError
from chargeledger.bootstrap import Node, store_failures
from chargeledger.domain.errors import DomainError, InvalidChargingProfileError
from chargeledger.entrypoints import observability
from chargeledger.entrypoints.api.admission import admission_router
from chargeledger.entrypoints.api.commands import commands_router, with_nested_schemas
from chargeledger.entrypoints.api.console import serve_console
from chargeledger.entrypoints.api.errors import ApiError, problems
from chargeledger.entrypoints.api.events import events_router
from chargeledger.entrypoints.api.probes import probes_router
from chargeledger.entrypoints.api.profiles import profiles_router
from chargeledger.entrypoints.api.sessions import sessions_router
from chargeledger.entrypoints.api.stations import stations_router

log = logging.getLogger(__name__)


def create_app(node: Node) -> FastAPI:
    app = FastAPI(title="chargeledger", version="0.1.0")
    with_nested_schemas(app)
    observability.count_requests(app, node)
    _answer_errors(app)
    # In this order: the OpenAPI document lists the paths as they are added.
    app.include_router(probes_router(node))
    serve_console(app)
    app.include_router(stations_router(node))
    app.include_router(events_router(node))
    app.include_router(commands_router(node))
    app.include_router(sessions_router(node))
    app.include_router(profiles_router(node))
    app.include_router(admission_router(node))
    return app


def _answer_errors(app: FastAPI) -> None:
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
            {"error": "ValidationError", "detail": problems(exc.errors())}, status_code=422
        )
