"""The supervisor restarts a worker at once, woken by its end, with backoff when it
keeps failing, and logs every restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from chargeledger.application.supervisor import Supervisor


class Flaky:
    """A worker that fails ``failures`` times, then runs until cancelled."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts: list[float] = []
        self.running = asyncio.Event()

    async def __call__(self) -> None:
        self.starts.append(asyncio.get_running_loop().time())
        if len(self.starts) <= self.failures:
            raise RuntimeError(f"failure {len(self.starts)}")
        self.running.set()
        await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def supervising(supervisor: Supervisor) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(supervisor.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_worker_that_fails_once_is_restarted_at_once() -> None:
    worker = Flaky(failures=1)
    # A backoff and a "healthy" time far longer than the test: only a wake-up on the
    # worker's own end (not a tick) can restart it this fast.
    supervisor = Supervisor(first_backoff_s=60, healthy_after_s=3600)
    supervisor.add("flaky", worker)
    async with supervising(supervisor):
        await asyncio.wait_for(worker.running.wait(), 1.0)
    assert len(worker.starts) == 2
    assert worker.starts[1] - worker.starts[0] < 0.05
    assert supervisor.restarts == {"flaky": 1}


async def test_a_worker_that_keeps_failing_backs_off_exponentially() -> None:
    worker = Flaky(failures=5)
    supervisor = Supervisor(first_backoff_s=0.05, healthy_after_s=3600, max_backoff_s=0.15)
    supervisor.add("flaky", worker)
    async with supervising(supervisor):
        await asyncio.wait_for(worker.running.wait(), 5.0)
    gaps = [b - a for a, b in zip(worker.starts, worker.starts[1:], strict=False)]
    assert gaps[0] < 0.04  # the first failure restarts at once
    assert gaps[1] >= 0.05
    assert gaps[2] >= 0.10
    assert gaps[3] >= 0.15
    assert 0.15 <= gaps[4] < 0.3  # capped, not 0.4


async def test_a_worker_that_lived_long_enough_is_restarted_at_once_again() -> None:
    worker = Flaky(failures=4)
    supervisor = Supervisor(first_backoff_s=60, healthy_after_s=0.0)
    supervisor.add("flaky", worker)
    async with supervising(supervisor):
        await asyncio.wait_for(worker.running.wait(), 1.0)
    assert worker.starts[-1] - worker.starts[0] < 0.1


async def test_other_workers_go_on_while_one_fails() -> None:
    steady_runs = 0
    flaky = Flaky(failures=3)

    async def steady() -> None:
        nonlocal steady_runs
        steady_runs += 1
        await asyncio.Event().wait()

    supervisor = Supervisor(first_backoff_s=0.001)
    supervisor.add("steady", steady)
    supervisor.add("flaky", flaky)
    async with supervising(supervisor):
        await asyncio.wait_for(flaky.running.wait(), 1.0)
    assert steady_runs == 1
    assert supervisor.restarts == {"steady": 0, "flaky": 3}


async def test_workers_ending_together_are_all_restarted(caplog: pytest.LogCaptureFixture) -> None:
    workers = [Flaky(failures=1) for _ in range(20)]
    supervisor = Supervisor(first_backoff_s=60, healthy_after_s=3600)
    for number, worker in enumerate(workers):
        supervisor.add(f"w{number}", worker)
    with caplog.at_level(logging.ERROR, logger="chargeledger.application.supervisor"):
        async with supervising(supervisor):
            await asyncio.wait_for(
                asyncio.gather(*(worker.running.wait() for worker in workers)), 1.0
            )
    assert all(len(worker.starts) == 2 for worker in workers)
    restarts = [r.getMessage() for r in caplog.records if "restart" in r.getMessage()]
    assert len(restarts) == 20
    assert any("worker w0 failed: RuntimeError('failure 1')" in line for line in restarts)


async def test_a_worker_that_returns_is_restarted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0
    again = asyncio.Event()

    async def returns_once() -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            again.set()
            await asyncio.Event().wait()

    supervisor = Supervisor()
    supervisor.add("quitter", returns_once)
    with caplog.at_level(logging.ERROR, logger="chargeledger.application.supervisor"):
        async with supervising(supervisor):
            await asyncio.wait_for(again.wait(), 1.0)
    assert any("worker quitter returned" in r.getMessage() for r in caplog.records)


async def test_stopping_the_supervisor_cancels_its_workers() -> None:
    cancelled = asyncio.Event()

    async def worker() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    supervisor = Supervisor()
    supervisor.add("worker", worker)
    async with supervising(supervisor):
        await asyncio.sleep(0.01)
    assert cancelled.is_set()
    assert supervisor.restarts == {"worker": 0}
