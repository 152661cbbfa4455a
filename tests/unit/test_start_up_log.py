"""The configuration logged at start hides the secrets a user chose."""

from __future__ import annotations

import logging

import pytest

from chargeledger.config import Settings
from chargeledger.entrypoints.observability import log_settings, masked_url


def test_a_password_in_the_store_url_is_masked() -> None:
    assert masked_url("postgresql://app:s3cret@db:5432/cl") == "postgresql://app:***@db:5432/cl"
    assert masked_url("postgresql://app@db/cl") == "postgresql://app@db/cl"
    assert masked_url("sqlite:///./chargeledger.db") == "sqlite:///./chargeledger.db"


def test_a_chosen_token_and_a_store_password_are_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(store="postgresql://app:s3cret@db/cl", api_token="chosen-token")
    with caplog.at_level(logging.INFO):
        log_settings(settings)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "chosen-token" not in line and "s3cret" not in line
    assert "api_token=***" in line and "node_id=node-1" in line
