"""A node's stop is bounded: a stage that hangs is named in the log and the stages after it
still run, so the store is closed (and the twins flushed) before a service manager's
SIGKILL."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from chargeledger.bootstrap import bounded_stage, build_node
from chargeledger.config import Settings


async def test_a_hanging_stage_is_left_behind_by_name_and_the_store_still_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = await build_node(Settings(store=f"sqlite:///{tmp_path / 'node.db'}", api_token="t"))
    closed: list[str] = []

    async def hangs() -> None:
        await asyncio.Event().wait()

    async def close_store() -> None:
        closed.append("store")

    node.gateway.stop = hangs  # type: ignore[method-assign]
    real_close = node.store.close

    async def closes_for_real() -> None:
        await real_close()
        await close_store()

    node.store.close = closes_for_real  # type: ignore[method-assign]
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, "chargeledger"):
        await asyncio.wait_for(node.close(within_s=1.0), 5.0)  # fails, not hangs, if unbounded
    assert time.monotonic() - started < 3.0
    assert closed == ["store"]
    assert "closing station connections did not finish in 1.0 s" in caplog.text


async def test_a_failing_stage_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise OSError("disk gone")

    with caplog.at_level(logging.WARNING, "chargeledger"):
        await bounded_stage("flushing the twins", fails(), 1.0)
    assert "flushing the twins failed: OSError('disk gone')" in caplog.text
