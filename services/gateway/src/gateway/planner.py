"""Planner statistics for a SQLite read model.

PostgreSQL keeps its statistics itself (autovacuum); SQLite plans without any until ANALYZE
runs, and then prefers any index with an equality: a page of the active contracts ending
within a year walked every active contract by `status` instead of the couple of hundred its
`end_date` range finds (measured on the bench's read model: 1.4 ms against 0.06 ms a
statement). The gateway refreshes them now and then, off the event loop, and reopens its
pooled connections, which keep the statistics they opened with.

With several gateway workers only the first gathers them (`analyze_in_this_process`): ANALYZE
takes the file's write lock, once is enough, and the others only reopen their pools on the
same period to read what it gathered. A file the engine opens read-only (`mode=ro` or
`immutable` in its URL) or cannot write is never analyzed: one log line says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("gateway.planner")

ANALYSIS_LIMIT = 400  # rows sampled per index: a refresh costs tens of ms whatever the size
PERIOD = 600.0  # seconds between refreshes (the tables grow as the projections write)


def _file_sqlite(engine: Engine) -> bool:
    # An in-memory database lives in its pooled connection: never reopened.
    database = engine.url.database or ""
    return engine.dialect.name == "sqlite" and database not in ("", ":memory:")


def _database_file(engine: Engine) -> str:
    database = engine.url.database or ""
    if database.startswith("file:"):  # a SQLite URI (`uri=true`): its path before the query
        database = database.removeprefix("file:").split("?", 1)[0]
    return database


def not_analyzable(engine: Engine) -> str | None:
    """Why this engine's file must not be analyzed (None: it may be): ANALYZE writes."""
    query = engine.url.query
    if query.get("mode") == "ro" or query.get("immutable") in ("1", "true"):
        return "its URL opens it read-only"
    path = _database_file(engine)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return "the file is not writable"
    return None


def analyze(engine: Engine) -> None:
    """Gather a SQLite file's planner statistics now (nothing to do on another database).

    On a connection of its own, apart from the engine's pool and its events: the statistics
    are upkeep, not one of the statements a request runs. Opened as the engine opens its own
    (the URL's path, URI and query options), never read-write when the URL says read-only."""
    if not _file_sqlite(engine) or not_analyzable(engine):
        return
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    options: dict[str, Any] = {**kwargs, "timeout": kwargs.get("timeout", 30)}
    with contextlib.closing(sqlite3.connect(args[0], **options, isolation_level=None)) as conn:
        conn.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        conn.execute("ANALYZE")
    # A connection reads the statistics when it opens: the pool's are replaced (those in use
    # finish their work and are closed when returned).
    engine.dispose()


_analyzing = True  # this process gathers the statistics (False: another worker does)


def analyze_in_this_process(analyzing: bool) -> None:
    """Set before the app is built: the gateway worker 0 analyzes, the others do not."""
    global _analyzing
    _analyzing = analyzing


class PlannerStatistics:
    """Refreshes the statistics at the first request and every `period` seconds after; a
    process that does not analyze (another worker does, or the file is read-only) only reopens
    its pooled connections on that period."""

    def __init__(self, engine: Engine, period: float = PERIOD) -> None:
        self.engine = engine
        self.period = period
        self._due = 0.0 if _file_sqlite(engine) else float("inf")
        self.running: asyncio.Future[None] | None = None  # the refresh in flight, if any
        self.analyzing = _analyzing and _file_sqlite(engine)
        reason = not_analyzable(engine) if self.analyzing else None
        if reason:
            log.info("planner statistics not gathered here: %s", reason)
            self.analyzing = False

    def maybe_refresh(self) -> None:
        now = time.monotonic()
        if now < self._due:
            return
        self._due = now + self.period
        self.running = asyncio.get_running_loop().run_in_executor(None, self._refresh)

    def _refresh(self) -> None:
        if not self.analyzing:
            self.engine.dispose()  # to read the statistics another process gathered
            return
        try:
            analyze(self.engine)
        except Exception as exc:  # a busy file: plans as before, try again later
            log.warning("planner statistics not refreshed: %s", exc)
