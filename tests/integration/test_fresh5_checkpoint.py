"""The projector's SQLite WAL is checkpointed by a thread of its own (`WalCheckpointer`), never
inside a writer's commit: the writers' connections do not checkpoint, the thread does, and
what was written is all there. States, not times."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import text

from eventstore.sql import WRITER, WalCheckpointer, make_engine


def test_writers_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    database = tmp_path / "read-models.db"
    engine = make_engine(f"sqlite:///{database}")
    checkpointer = WalCheckpointer.start_for(engine, every=3600)  # here: only at its stop
    assert checkpointer is not None
    try:
        with engine.connect().execution_options(**WRITER) as conn, conn.begin():
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
        # Well past the 1,000 pages at which a writer's commit would checkpoint by default.
        for i in range(300):
            with engine.connect().execution_options(**WRITER) as conn, conn.begin():
                rows = [{"body": f"{i}-{j}-" + "x" * 4000} for j in range(10)]
                conn.execute(text("INSERT INTO t (body) VALUES (:body)"), rows)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 0
        # No writer checkpointed: a checkpointing one would have restarted the WAL from its
        # start at ~1,000 pages (4 MB) each time; it holds every commit (~12 MB).
        assert Path(f"{database}-wal").stat().st_size > 10_000_000
    finally:
        checkpointer.stop()  # makes a last checkpoint
    assert checkpointer.checkpoints == 1
    # The database file alone, without its WAL, holds every row: the checkpoint copied them.
    alone = tmp_path / "alone.db"
    shutil.copyfile(database, alone)
    with sqlite3.connect(alone) as copy:
        assert copy.execute("SELECT count(*) FROM t").fetchone() == (3000,)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 3000
    engine.dispose()


def test_no_checkpointer_for_memory_or_server_databases() -> None:
    assert WalCheckpointer.start_for(make_engine("sqlite://")) is None
    assert WalCheckpointer.start_for(make_engine("postgresql://u@localhost/x")) is None
