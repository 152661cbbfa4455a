"""A node collects garbage rarely and never walks what its start-up created (issue 13:
full collections of a node holding 12,500 stations held its event loop for seconds)."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from chargeledger.entrypoints import cli_serve
from chargeledger.entrypoints.collector import YOUNG_THRESHOLD, tune_collector


@pytest.fixture
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_the_young_generation_is_large_and_the_start_up_frozen(collector: None) -> None:
    _young, middle, old = gc.get_threshold()
    tune_collector()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    assert gc.get_freeze_count() > 0


def test_serve_tunes_the_collector_before_the_node_runs(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []

    def run(coroutine: Any) -> None:
        seen.append(gc.get_threshold())
        coroutine.close()

    monkeypatch.setattr(
        cli_serve, "_settings", lambda args: argparse.Namespace(store="sqlite:///x.db")
    )
    monkeypatch.setattr(cli_serve, "_ports_free", lambda settings: None)
    monkeypatch.setattr(cli_serve, "node_lock", lambda store, name: None)
    monkeypatch.setattr("chargeledger.bootstrap.tls_context", lambda settings: None)
    monkeypatch.setattr(cli_serve.asyncio, "run", run)
    assert cli_serve.serve_node(argparse.Namespace()) == 0
    assert seen and seen[0][0] == YOUNG_THRESHOLD
