"""Keeps a node's long-running workers alive: a worker that ends is restarted at once,
woken by its own end (no polling tick), with backoff when it keeps failing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Worker = Callable[[], Awaitable[None]]


class Supervisor:
    def __init__(self, max_backoff_s: float = 30.0, healthy_after_s: float = 60.0) -> None:
        self._workers: dict[str, Worker] = {}
        self._max_backoff_s = max_backoff_s
        self._healthy_after_s = healthy_after_s
        self.restarts: dict[str, int] = {}

    def add(self, name: str, worker: Worker) -> None:
        self._workers[name] = worker

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        running: dict[asyncio.Task[None], str] = {}
        started: dict[str, float] = {}
        failures: dict[str, int] = {}

        def start(name: str) -> None:
            running[asyncio.create_task(self._call(name), name=name)] = name
            started[name] = loop.time()

        for name in self._workers:
            start(name)
        try:
            while running:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    name = running.pop(task)
                    error = task.exception() if not task.cancelled() else None
                    lived = loop.time() - started[name]
                    failures[name] = (
                        0 if lived >= self._healthy_after_s else failures.get(name, 0) + 1
                    )
                    delay = (
                        min(self._max_backoff_s, 0.1 * 2 ** (failures[name] - 1))
                        if failures[name] > 1
                        else 0.0
                    )
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    log.error("worker %s ended (%r); restarting in %.1f s", name, error, delay)
                    if delay:
                        running[asyncio.create_task(self._delayed(name, delay), name=name)] = name
                        started[name] = loop.time() + delay
                    else:
                        start(name)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _call(self, name: str) -> None:
        await self._workers[name]()

    async def _delayed(self, name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._workers[name]()
