"""The HTTP API (FastAPI) and the web page, per CONTRACT.md."""

from __future__ import annotations

import hmac
import uuid
from enum import StrEnum
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from chargeledger.application.command_bus import RetriesExhaustedError
from chargeledger.application.operator_commands import OperatorCommands
from chargeledger.application.queries import Views
from chargeledger.bootstrap import Node
from chargeledger.domain.errors import DomainError


class CommandName(StrEnum):
    remote_start = "remote-start"


class RemoteStartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connector_id: int = Field(gt=0)
    id_tag: str = Field(min_length=1, max_length=20)
    ttl_s: float | None = Field(default=None, gt=0)


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


def create_app(node: Node) -> FastAPI:
    app = FastAPI(title="chargeledger", version="0.1.0")
    views = Views(node.documents, node.twin)
    operator = OperatorCommands(node.bus, node.documents, node.clock, node.settings.command_ttl_s)
    token = node.settings.api_token

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        supplied = (authorization or "").removeprefix("Bearer ").strip()
        if not authorization or not hmac.compare_digest(supplied.encode(), token.encode()):
            raise ApiError(401, "Unauthorized", "send Authorization: Bearer <the API token>")

    async def caught_up(min_position: int | None) -> None:
        if min_position is None:
            return
        if not await node.projections.wait_until(min_position, node.settings.read_wait_s):
            raise ApiError(
                503, "NotCaughtUp", f"read models are not yet at position {min_position}; retry"
            )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": exc.error, "detail": exc.detail}, exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        return JSONResponse(
            {"error": "ValidationError", "detail": "; ".join(problems)}, status_code=422
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "node": node.settings.node_id}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> str:
        return (
            "# TYPE chargeledger_connected_stations gauge\n"
            f"chargeledger_connected_stations {node.gateway.connected_count}\n"
            "# TYPE chargeledger_projection_position gauge\n"
            f"chargeledger_projection_position {node.projections.position}\n"
            "# TYPE chargeledger_version_conflicts_total counter\n"
            f"chargeledger_version_conflicts_total {node.bus.conflicts}\n"
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files("chargeledger.entrypoints").joinpath("static/index.html").read_text()

    api = [Depends(require_token)]

    @app.get("/api/stations", dependencies=api)
    async def list_stations(min_position: int | None = None) -> list[dict[str, Any]]:
        await caught_up(min_position)
        return await views.stations()

    @app.get("/api/stations/{station_id}", dependencies=api)
    async def get_station(station_id: str, min_position: int | None = None) -> dict[str, Any]:
        await caught_up(min_position)
        view = await views.station(station_id)
        if view is None:
            raise ApiError(404, "StationNotFound", f"no station {station_id!r}")
        return view

    @app.post("/api/stations/{station_id}/commands/{name}", status_code=202, dependencies=api)
    async def post_command(
        station_id: str,
        name: CommandName,
        body: RemoteStartBody,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> dict[str, Any]:
        if not await views.station_known(station_id):
            raise ApiError(404, "StationNotFound", f"no station {station_id!r}")
        command_id = idempotency_key or str(uuid.uuid4())
        try:
            return await operator.remote_start(
                station_id, command_id, body.connector_id, body.id_tag, body.ttl_s
            )
        except DomainError as refusal:
            raise ApiError(409, refusal.code, refusal.detail) from None
        except RetriesExhaustedError as busy:
            raise ApiError(503, "Busy", str(busy), headers={"Retry-After": "1"}) from None

    @app.get("/api/commands/{command_id}", dependencies=api)
    async def get_command(command_id: str, min_position: int | None = None) -> dict[str, Any]:
        await caught_up(min_position)
        view = await views.command(command_id)
        if view is None:
            raise ApiError(404, "CommandNotFound", f"no command {command_id!r}")
        return view

    return app
