"""Keeps a node's long-running workers alive.

A worker that ends (fails, returns, or is cancelled by someone else) is restarted
at once: the supervisor sleeps in ``asyncio.wait(FIRST_COMPLETED)`` on the
workers themselves, so it is woken by the end, never by a polling tick, and
several workers ending together are handled in one wake-up. A worker that keeps
failing (ends again within ``healthy_after_s`` of its start) is restarted after
an exponential backoff, capped at ``max_backoff_s``. Every restart is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Worker = Callable[[], Awaitable[None]]


@dataclass
class _Record:
    started_at: float = 0.0
    failures_in_a_row: int = 0
    restarts: int = 0


class Supervisor:
    def __init__(
        self,
        max_backoff_s: float = 30.0,
        healthy_after_s: float = 60.0,
        first_backoff_s: float = 0.1,
    ) -> None:
        self._workers: dict[str, Worker] = {}
        self._max_backoff_s = max_backoff_s
        self._healthy_after_s = healthy_after_s
        self._first_backoff_s = first_backoff_s
        self._records: dict[str, _Record] = {}

    def add(self, name: str, worker: Worker) -> None:
        """Supervise ``worker`` under ``name`` (before ``run``)."""
        self._workers[name] = worker
        self._records[name] = _Record()

    @property
    def restarts(self) -> dict[str, int]:
        return {name: record.restarts for name, record in self._records.items()}

    async def run(self) -> None:
        """Run every worker until cancelled; cancelling this cancels them all."""
        loop = asyncio.get_running_loop()
        running: dict[asyncio.Task[None], str] = {}

        def start(name: str, delay: float) -> None:
            self._records[name].started_at = loop.time() + delay
            running[asyncio.create_task(self._run_one(name, delay), name=name)] = name

        for name in self._workers:
            start(name, 0.0)
        try:
            while running:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    name = running.pop(task)
                    start(name, self._restart_delay(name, task, loop.time()))
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _restart_delay(self, name: str, ended: asyncio.Task[None], now: float) -> float:
        record = self._records[name]
        lived = now - record.started_at
        record.failures_in_a_row = (
            1 if lived >= self._healthy_after_s else record.failures_in_a_row + 1
        )
        record.restarts += 1
        delay = (
            0.0
            if record.failures_in_a_row == 1
            else min(
                self._max_backoff_s, self._first_backoff_s * 2 ** (record.failures_in_a_row - 2)
            )
        )
        if ended.cancelled():
            how = "was cancelled"
        elif ended.exception() is not None:
            how = f"failed: {ended.exception()!r}"
        else:
            how = "returned"
        log.error(
            "worker %s %s after %.1f s; restart %d in %.2f s",
            name,
            how,
            lived,
            record.restarts,
            delay,
            exc_info=ended.exception() if not ended.cancelled() else None,
        )
        return delay

    async def _run_one(self, name: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self._workers[name]()
