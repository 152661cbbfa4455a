"""What the bus integration tests share: the stores they run on, by URL, so PostgreSQL
joins as one more parameter.

When issue 3's ``PostgresEventStore`` lands in ``bootstrap.open_stores``, add
``"postgres"`` to ``STORE_KINDS``: the ``store_url`` fixture then hands out a fresh
PostgreSQL database (the ``postgres_dsn`` fixture) and every ``test_bus_*`` test
that takes ``store_url`` runs on it too. Test modules import the fixture from here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

STORE_KINDS = ["sqlite"]


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``sqlite:///…`` on a fresh file (or a fresh PostgreSQL database, see above)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_dsn"))
    return f"sqlite:///{tmp_path / 'bus.db'}"
