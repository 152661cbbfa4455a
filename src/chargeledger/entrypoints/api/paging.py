"""Cursor paging of the API's lists: the ``limit`` and ``cursor`` query parameters,
the opaque cursor, and the ``Link: <…>; rel="next"`` header (RFC 8288), shared by
every router that lists."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response

from chargeledger.application.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from chargeledger.entrypoints.api.errors import ApiError

Limit = Annotated[
    int | None,
    Query(description=f"items per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})"),
]
Cursor = Annotated[
    str | None,
    Query(description='the cursor of a Link: <…>; rel="next" header: where the page starts'),
]


def cursor_of(key: str) -> str:
    """An opaque cursor: clients pass it back, never build it."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def key_of(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        key = "\x00"
    if "\x00" in key:  # no key we hand out holds U+0000, and PostgreSQL cannot compare it
        raise ApiError(422, "ValidationError", "query.cursor: not a cursor of this list")
    return key


def paged(request: Request, response: Response, page: Page[Any], size: int) -> list[Any]:
    """The page's items; the next page named by a Link header (RFC 8288), same query."""
    if page.next_after is not None:
        query = {**request.query_params, "limit": str(size), "cursor": cursor_of(page.next_after)}
        response.headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return page.items
