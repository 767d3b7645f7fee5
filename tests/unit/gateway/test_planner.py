"""Planner statistics on a real SQLite file: gathered where they may be, never through a URL
that opens the file read-only, and only in the gateway process that is asked to."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from gateway import planner
from gateway.planner import PlannerStatistics, analyze_in_this_process


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "read-models.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, status TEXT)")
        conn.execute("CREATE INDEX c_status ON c (status)")
        conn.executemany("INSERT INTO c (status) VALUES (?)", [("a",), ("b",)] * 50)
        conn.commit()
    return path


@pytest.fixture(autouse=True)
def analyzing_restored() -> Iterator[None]:
    yield
    analyze_in_this_process(True)


def has_statistics(path: Path) -> bool:
    with closing(sqlite3.connect(path)) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        return found.fetchone() is not None


def contents(path: Path) -> bytes:
    return path.read_bytes()


async def refresh(url: str) -> None:
    statistics = PlannerStatistics(create_engine(url))
    statistics.maybe_refresh()
    assert statistics.running is not None
    await statistics.running


async def test_a_writable_file_gets_its_statistics(database: Path) -> None:
    await refresh(f"sqlite:///{database}")
    assert has_statistics(database)


async def test_a_worker_other_than_the_first_gathers_none(database: Path) -> None:
    analyze_in_this_process(False)
    await refresh(f"sqlite:///{database}")
    assert not has_statistics(database)


@pytest.mark.parametrize(
    "url",
    ["sqlite:///file:{path}?mode=ro&uri=true", "sqlite:///file:{path}?immutable=1&uri=true"],
)
async def test_a_read_only_url_is_never_opened_read_write(
    database: Path, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = contents(database)
    with caplog.at_level(logging.INFO, logger=planner.log.name):
        await refresh(url.format(path=database))
    assert not has_statistics(database)
    assert contents(database) == before
    said = [r.getMessage() for r in caplog.records if r.name == planner.log.name]
    assert said == ["planner statistics not gathered here: its URL opens it read-only"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes any file")
async def test_a_file_it_cannot_write_is_skipped_with_one_line(
    database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.chmod(database, 0o444)
    with caplog.at_level(logging.INFO, logger=planner.log.name):
        await refresh(f"sqlite:///{database}")
    assert not has_statistics(database)
    said = [r.getMessage() for r in caplog.records if r.name == planner.log.name]
    assert said == ["planner statistics not gathered here: the file is not writable"]
