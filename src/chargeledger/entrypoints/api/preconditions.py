"""What a route asks of a request before it answers: the API token (bearer, or
``?token=`` for a browser's EventSource), and read models caught up to a position
(``min_position``), and a lookup that reads your own writes. Shared by every router."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Header, Request

from chargeledger.bootstrap import Node
from chargeledger.entrypoints.api.errors import ApiError

TokenCheck = Callable[..., Awaitable[None]]
Found = TypeVar("Found")


def token_required(token: str) -> TokenCheck:
    """A dependency: 401 unless ``Authorization: Bearer`` carries the token."""

    async def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        supplied = (authorization or "").removeprefix("Bearer ").strip()
        if not authorization or not hmac.compare_digest(supplied.encode(), token.encode()):
            raise ApiError(401, "Unauthorized", "send Authorization: Bearer <the API token>")

    return require_token


def token_or_query_required(token: str) -> TokenCheck:
    """A dependency: as :func:`token_required`, or the token in ``?token=``."""
    require_token = token_required(token)

    async def require_token_or_query(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> None:
        """A browser's EventSource cannot send headers: it may pass ``?token=`` instead."""
        supplied = request.query_params.get("token")
        if supplied is not None and hmac.compare_digest(supplied.encode(), token.encode()):
            return
        await require_token(authorization)

    return require_token_or_query


async def caught_up(node: Node, min_position: int | None) -> None:
    if min_position is None:
        return
    if not await node.projections.wait_until(min_position, node.settings.read_wait_s):
        raise ApiError(
            503, "NotCaughtUp", f"read models are not yet at position {min_position}; retry"
        )


async def caught_up_to_head(node: Node) -> None:
    head = await node.store.head_position()
    await node.projections.wait_until(head, node.settings.read_wait_s)


async def found_reading_own_writes(
    node: Node,
    min_position: int | None,
    look_up: Callable[[], Awaitable[Found | None]],
    not_found: ApiError,
) -> Found:
    """What ``look_up`` finds once the read models are at ``min_position``; when it
    finds nothing, read your own writes: something just accepted (on any node) is in
    the log, so wait for the read models to reach the log's head and look again;
    ``not_found`` raised when it is still not there."""
    await caught_up(node, min_position)
    found = await look_up()
    if found is None:
        await caught_up_to_head(node)
        found = await look_up()
    if found is None:
        raise not_found
    return found
