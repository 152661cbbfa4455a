"""Connection counts and rate-limited log lines: the small bounds of the OCPP port,
without sockets."""

from __future__ import annotations

import logging

import pytest

from chargeledger.adapters.ocpp.admission import ConnectionCounts, RateLimitedLog


def test_connections_are_capped_per_port_and_per_address() -> None:
    counts = ConnectionCounts(max_total=3, max_per_address=2)
    assert counts.open("10.0.0.1") is None
    assert counts.open("10.0.0.1") is None
    assert "at most 2" in (counts.open("10.0.0.1") or "")
    assert counts.open("10.0.0.2") is None
    assert "maximum of 3" in (counts.open("10.0.0.3") or "")
    counts.closed("10.0.0.1")
    assert counts.open("10.0.0.3") is None
    assert counts.total == 3


def test_the_hosts_own_address_is_not_capped_per_address() -> None:
    counts = ConnectionCounts(max_total=100, max_per_address=2)
    assert all(counts.open("127.0.0.1") is None for _ in range(50))  # a local proxy
    assert all(counts.open("::1") is None for _ in range(50))
    assert counts.open("::1") is not None  # the port's cap still holds


def test_zero_means_no_cap() -> None:
    counts = ConnectionCounts(max_total=0, max_per_address=0)
    assert all(counts.open("10.0.0.1") is None for _ in range(1000))


def test_a_flood_of_one_event_is_one_line_then_one_line_with_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.rate_limited")
    lines = RateLimitedLog(logger, interval_s=0.0)
    quiet = RateLimitedLog(logger, interval_s=3600.0)
    with caplog.at_level(logging.WARNING, logger="test.rate_limited"):
        for n in range(1000):
            quiet.warning("accept", "cannot accept: %s", n)
        lines.warning("other", "a %s", "line")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["cannot accept: 0", "a line"]
    quiet._last.clear()  # the interval has passed
    with caplog.at_level(logging.WARNING, logger="test.rate_limited"):
        quiet.warning("accept", "cannot accept: %s", "again")
    assert caplog.records[-1].getMessage() == (
        "cannot accept: again (and 999 more like it in the last 3600 s)"
    )
