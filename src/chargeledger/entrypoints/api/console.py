"""The operator console: the web page at ``/`` and its script and style under
``/console``, shipped in the package (no CDN); outside the OpenAPI document."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles


def serve_console(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files("chargeledger.entrypoints").joinpath("static/index.html").read_text()

    # The operator console's script and style, shipped in the package (no CDN).
    app.mount(
        "/console", StaticFiles(packages=[("chargeledger.entrypoints", "static")]), name="console"
    )
