"""What the handler integration tests share: the stores they run on, by URL. Every
``test_command_handler_*`` test that takes ``store_url`` runs on a fresh SQLite file and on a fresh
PostgreSQL database (the ``postgres_dsn`` fixture). Test modules import the fixture
from here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

STORE_KINDS = ("sqlite", "postgres")


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``sqlite:///…`` on a fresh file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_dsn"))
    return f"sqlite:///{tmp_path / 'handler.db'}"
