"""The API's refusals as one JSON shape, ``{"error": ..., "detail": ...}``: the
error every router raises, apart from the app factory that turns it into a response
(so the routers need not import the app)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chargeledger.errors import ChargeledgerError


class ApiError(ChargeledgerError):
    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


def problems(errors: Sequence[Any]) -> str:
    """Each bad field by name, e.g. ``body.connector_id: Input should be a valid integer``."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in errors)
