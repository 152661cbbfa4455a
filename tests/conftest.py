"""Shared test set-up: free ports, a real PostgreSQL database per test, a served node."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_server() -> str | None:
    """The DSN prefix of a reachable server: CHARGELEDGER_TEST_POSTGRES, or the machine's
    cluster on 5432, or the private one scripts/ensure-postgres.sh starts on 54329."""
    import psycopg

    candidates = [os.environ.get("CHARGELEDGER_TEST_POSTGRES")] + [
        f"postgresql://{user}@127.0.0.1:{port}"
        for port in (5432, 54329)
        for user in ("postgres", "root")
    ]
    for base in filter(None, candidates):
        try:
            with psycopg.connect(f"{base}/postgres", connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return base
        except psycopg.Error:
            continue
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    base = _postgres_server()
    if base is None:
        pytest.fail("no PostgreSQL server: run scripts/ensure-postgres.sh (make test does)")
    return base


@pytest.fixture
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    import psycopg

    name = f"cl_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres_server}/{name}"
    finally:
        with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
