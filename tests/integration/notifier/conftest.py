"""Notifier tests run on SQLite and PostgreSQL (`database_url`); some need a second database."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest


@pytest.fixture
def other_database_url(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second, empty database of the same kind as `database_url` (another instance's)."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other-instance.db'}"
    cluster = request.getfixturevalue("postgres_cluster")
    url: str = cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")
    return url
