"""A SQLite read model's WAL checkpointed beside its commits (`eventstore.wal_checkpoints`).

The projector's commits (through its engine, as `projection.apply_together` commits: a
writer connection, BEGIN IMMEDIATE, under the process's writer turn) must not checkpoint the
log themselves -- SQLite's own checkpoint runs inside the commit that takes the log past
1,000 pages --, the thread beside them must, and a log that grows past its bound must be
started over by the next transaction. Read off the log's page count (`PRAGMA
wal_checkpoint`'s answer) and the rows a reader sees: counts, never times.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from sqlalchemy import Engine, text

from eventstore.projection import writer_turn
from eventstore.sql import WRITER, make_engine
from eventstore.wal_checkpoints import WalCheckpoints

NEVER = 3_600.0  # seconds between the thread's checkpoints: none before its stop
BOUND = 120.0  # seconds: bounds a hang, not a speed


def _table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)"))


def _commit(engine: Engine, first: int, count: int = 4) -> None:
    """One projector-like transaction: `count` rows of ~3 KB (a page each, and more)."""
    turn = writer_turn(engine)
    assert turn is not None
    with turn, engine.connect().execution_options(**WRITER) as conn, conn.begin():
        conn.execute(
            text("INSERT INTO rows (id, body) VALUES (:id, :body)"),
            [{"id": first + i, "body": os.urandom(3_000)} for i in range(count)],
        )


def _log_pages(path: Path) -> int:
    """The pages in the log now (a checkpoint asked for nothing but its answer: FULL would
    wait; PASSIVE copies what it can, leaving the count)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        _, pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(pages)
    finally:
        conn.close()


def _rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM rows").fetchone()[0])
    finally:
        conn.close()


def test_the_commits_leave_the_log_to_the_thread_beside_them(tmp_path: Path) -> None:
    path = tmp_path / "read.db"
    engine = make_engine(f"sqlite:///{path}")
    checkpoints = WalCheckpoints.apart(engine, every=NEVER)
    assert checkpoints is not None
    try:
        _table(engine)
        for n in range(600):  # ~2,400 pages: SQLite's own checkpoints would run at 1,000
            _commit(engine, n * 4)
        # No commit checkpointed (one that did would have let the next start the log over).
        assert _log_pages(path) >= 2_400
    finally:
        checkpoints.stop()  # its last checkpoint
        engine.dispose()
    assert checkpoints.checkpoints == 1
    assert _rows(path) == 2_400


def test_a_long_log_is_started_over_by_the_next_transaction(tmp_path: Path) -> None:
    path = tmp_path / "read.db"
    engine = make_engine(f"sqlite:///{path}")
    checkpoints = WalCheckpoints.apart(engine, every=0.01, restart_frames=400)
    assert checkpoints is not None
    try:
        _table(engine)
        n = 0
        deadline = time.monotonic() + BOUND
        while checkpoints.restarts == 0:  # writing until the log passed 400 pages once
            assert time.monotonic() < deadline, "the checkpointer never finished a long log"
            _commit(engine, n * 4)
            n += 1
        _commit(engine, n * 4)
        n += 1
        # Everything was in the database when it began: it wrote from the log's start.
        assert _log_pages(path) < 400
    finally:
        checkpoints.stop()
        engine.dispose()
    assert _rows(path) == n * 4


def test_only_a_sqlite_file_is_checkpointed_apart() -> None:
    assert WalCheckpoints.apart(make_engine("sqlite:///:memory:")) is None
    assert WalCheckpoints.apart(make_engine("sqlite://")) is None
