"""The command POST's fast path (issue 14) answers as FastAPI answers: two nodes, each
on the real stack (its API app behind the guard, served by uvicorn on 127.0.0.1), one
with the fast path in front of the app and one without, take the same requests and
give the same statuses, headers and bodies; the ordinary ones are answered by the fast
path, everything FastAPI words a refusal for goes to FastAPI."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from chargeledger.bootstrap import Node, build_node
from chargeledger.config import Settings
from chargeledger.entrypoints.api import create_app
from chargeledger.entrypoints.api.command_fast_path import TEMPLATE, CommandFastPath
from tests.integration.guarded_server import guarded_server

ROUTE = "/api/stations/{}/commands/{}"
JSON = {"Content-Type": "application/json"}

# (path, headers, body): each sent to both nodes in this order.
REQUESTS: list[tuple[str, dict[str, str], bytes]] = [
    (
        ROUTE.format("CP1", "remote-start"),
        {**JSON, "Idempotency-Key": "k1"},
        b'{"connector_id": 1, "id_tag": "T1"}',
    ),
    (
        ROUTE.format("CP1", "remote-start"),
        {**JSON, "Idempotency-Key": "k1"},
        b'{"connector_id": 1, "id_tag": "T1"}',
    ),  # a repeat: the first command
    (
        ROUTE.format("CP1", "remote-start"),
        {**JSON, "Idempotency-Key": "k1"},
        b'{"connector_id": 2, "id_tag": "T1"}',
    ),  # the key with another body: 409
    (
        ROUTE.format("CP1", "remote-start"),
        {**JSON, "Idempotency-Key": "k2"},
        b'{"connector_id": 1, "id_tag": "T2"}',
    ),  # the connector is held: 409
    (
        ROUTE.format("CP9", "remote-start"),
        {**JSON, "Idempotency-Key": "k3"},
        b'{"connector_id": 1, "id_tag": "T1"}',
    ),  # no such station: 404
    (
        ROUTE.format("CP1", "remote-start"),
        {**JSON, "Idempotency-Key": "k4"},
        b'{"connector_id": "one", "id_tag": "T1"}',
    ),  # the body's model refuses: 422
    (ROUTE.format("CP1", "reset"), {**JSON, "Idempotency-Key": "k5"}, b'{"type": "Soft"}'),
    (ROUTE.format("CP1", "reset"), JSON, b'{"type": "Hard"}'),  # no key: a new id
    # FastAPI's own refusals, which the fast path leaves to it:
    (ROUTE.format("CP1", "no-such-command"), {**JSON, "Idempotency-Key": "k6"}, b"{}"),
    (ROUTE.format("C" * 49, "reset"), {**JSON, "Idempotency-Key": "k7"}, b'{"type": "Soft"}'),
    (ROUTE.format("CP1", "reset"), {**JSON, "Idempotency-Key": "a/b"}, b'{"type": "Soft"}'),
    (ROUTE.format("CP1", "reset"), {**JSON, "Idempotency-Key": "k8"}, b'{"type": '),
    (ROUTE.format("CP1", "reset"), {**JSON, "Idempotency-Key": "k9"}, b'["Soft"]'),
    (ROUTE.format("CP1", "reset"), {**JSON, "Idempotency-Key": "k10"}, b""),
    (ROUTE.format("CP1", "reset"), {"Idempotency-Key": "k11"}, b'{"type": "Soft"}'),
    (
        ROUTE.format("CP1", "reset"),
        {"Content-Type": "text/plain", "Idempotency-Key": "k12"},
        b'{"type": "Soft"}',
    ),
]
ANSWERED_BY_THE_FAST_PATH = 8

_VARIES = re.compile(
    r'"(requested_at|expires_at|ended_at)":"[^"]*"'
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


@asynccontextmanager
async def _served(tmp_path: Path, name: str, fast: bool) -> AsyncIterator[tuple[str, Node, Any]]:
    node = await build_node(Settings(store=f"sqlite:///{tmp_path / name}.db", api_token="t"))
    await node.registry.add("CP1", None, "2026-12-02T00:00:00+00:00")
    app: Any = create_app(node)
    if fast:
        app = CommandFastPath(app, token="t", metrics=node.metrics, node=node)
    try:
        async with guarded_server(app) as url:
            yield url, node, app
    finally:
        await node.close()


def _answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], str]:
    headers = [(k, v) for k, v in response.headers.items() if k not in ("date", "content-length")]
    return response.status_code, headers, _VARIES.sub("…", response.text)


async def test_the_fast_path_answers_the_same_bytes_as_fastapi(tmp_path: Path) -> None:
    async with (
        _served(tmp_path, "plain", fast=False) as (plain_url, plain_node, _),
        _served(tmp_path, "fast", fast=True) as (fast_url, fast_node, fast_app),
        httpx.AsyncClient(headers={"Authorization": "Bearer t"}, timeout=10) as client,
    ):
        for path, headers, body in REQUESTS:
            plain = await client.post(plain_url + path, headers=headers, content=body)
            fast = await client.post(fast_url + path, headers=headers, content=body)
            assert _answer(fast) == _answer(plain), (path, headers, body)
        assert fast_app.answered == ANSWERED_BY_THE_FAST_PATH
        assert _requests_counted(plain_node) == _requests_counted(fast_node)
        assert _requests_counted(fast_node)[("POST", TEMPLATE, "202")] == 3


def _requests_counted(node: Node) -> dict[tuple[str, str, str], float]:
    counted = {}
    for metric in node.metrics.http_requests.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                labels = sample.labels
                counted[(labels["method"], labels["route"], labels["status"])] = sample.value
    return counted
