"""What the handler integration tests share: the stores they run on, by URL, and a
race between this process and others. Every ``test_command_handler_*`` test that
takes ``store_url`` runs on a fresh SQLite file and on a fresh PostgreSQL database
(the ``postgres_dsn`` fixture). Test modules import the fixture from here.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any, TypeVar

import pytest

Result = TypeVar("Result")

Contender = Callable[[str, list[int], "Queue[Any]", ProcessEvent, "Queue[Any]"], None]
"""A process's part in a race, given the store's URL, its numbers, ``ready``, ``go``
and ``out``: it puts to ``ready`` once loaded, waits for ``go``, puts its result to
``out``. A module-level function (the processes are spawned)."""

STORE_KINDS = ("sqlite", "postgres")


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``sqlite:///…`` on a fresh file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_dsn"))
    return f"sqlite:///{tmp_path / 'handler.db'}"


async def race_processes(
    store_url: str,
    contender: Contender,
    groups: list[list[int]],
    ours: Callable[[], Awaitable[Result]],
) -> tuple[Result, list[Any]]:
    """One process per group runs ``contender``; once every one is ready, all go at
    once with ``ours`` in this process. ``ours``' result, and each process's."""
    context = multiprocessing.get_context("spawn")
    ready: Queue[Any] = context.Queue()
    out: Queue[Any] = context.Queue()
    go = context.Event()
    workers = [
        context.Process(target=contender, args=(store_url, group, ready, go, out))
        for group in groups
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            await asyncio.to_thread(ready.get, True, 60)
        go.set()
        mine = await ours()
        theirs = [await asyncio.to_thread(out.get, True, 60) for _ in workers]
    finally:
        for worker in workers:
            worker.join(30)
    return mine, theirs
