"""A SQLite read model's WAL checkpointed beside its commits, not inside one (#18, fresh18).

SQLite in WAL mode checkpoints by itself: the commit that takes the log past
`wal_autocheckpoint` pages (1,000 by default, ~4 MB) copies the log's pages into the database
file and syncs both (`synchronous=NORMAL` syncs only there) before it returns. In the
projector that commit is one of the shared transactions a read-your-writes waits for: on
this machine a checkpoint takes 10-70 ms under load (two fsyncs, 4-22 ms p50/p99 each at load
12, and the pages' copy), once every ~1,000 pages written -- a commit's p99, and the next
batch waits behind it for the writer. Measured apart (fresh18; a 200k-row table, 12 updated
rows a transaction, a commit every 5 ms): commit p99 41-51 ms with the checkpoint in the
commit, 4.6-5.3 ms with it in a thread beside.

`WalCheckpoints.apart(engine)` turns the engine's own checkpoints off (`PRAGMA
wal_autocheckpoint=0` on each of its connections) and checkpoints from a thread of its own,
every `EVERY` seconds, on a connection of its own: `PASSIVE`, which takes no lock a writer
or a reader needs (writers append to the log meanwhile; sqlite3 lets go of the GIL while it
runs). A checkpoint that copied the whole log lets the next transaction start the log over
(SQLite restarts it at a writer's begin when everything in it is in the database and no
reader still reads it). The writers of a busy process may never leave that gap: once the log
holds `RESTART_FRAMES` pages, the checkpointer copies the last of it while holding the
process's writer turn (`projection.WriterTurn`, asked for as a read model catching up: live
ones first), so that the next transaction does start it over -- one short stall (the pages
written since the last checkpoint and the two syncs) every `RESTART_FRAMES` pages instead of
a whole checkpoint every 1,000. Readers that hold an old snapshot keep the log from being
copied past it, as with SQLite's own checkpoints.

For a process that writes its SQLite read models (the projector); the file's other writers,
if any, keep their own checkpoints. Call before the engine's first connection.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

EVERY = 0.25  # seconds between two checkpoints
# Pages in the log after which the checkpointer holds the writer turn for the rest of a
# checkpoint, so that the next transaction starts the log over (~32 MB of 4 KB pages).
RESTART_FRAMES = 8_000


class WalCheckpoints:
    """The checkpoints of one SQLite database file, in a thread beside its writers."""

    def __init__(self, engine: Engine, path: str, every: float, restart_frames: int) -> None:
        self._engine = engine
        self._path = path
        self._every = every
        self._restart_frames = restart_frames
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # checkpoints run (each PASSIVE)
        self.restarts = 0  # of them, finished holding the writer turn
        self.frames = 0  # pages in the log at the last checkpoint

    @classmethod
    def apart(
        cls, engine: Engine, *, every: float = EVERY, restart_frames: int = RESTART_FRAMES
    ) -> WalCheckpoints | None:
        """Checkpoint `engine`'s database beside its commits (started); None when it is not a
        SQLite file (PostgreSQL, an in-memory database)."""
        if engine.dialect.name != "sqlite":
            return None
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None

        @event.listens_for(engine, "connect")
        def _no_checkpoint_in_commits(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        found = cls(engine, path, every, restart_frames)
        found.start()
        return found

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"wal-checkpoints {self._path}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop checkpointing (one last checkpoint first); returns once the thread ended."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                stopping = self._stop.wait(self._every)
                try:
                    if conn is None:
                        conn = sqlite3.connect(
                            self._path, isolation_level=None, check_same_thread=False, timeout=30
                        )
                    self.checkpoint(conn)
                except sqlite3.Error as exc:  # no file yet, a locked moment: the next turn
                    log.debug("checkpoint of %s: %s", self._path, exc)
                if stopping:
                    return
        finally:
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """One PASSIVE checkpoint; finished under the writer turn when the log is long."""
        from eventstore.projection import writer_turn

        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        if row is None:
            return
        _, frames, _ = row
        self.frames = frames
        if frames < self._restart_frames:
            return
        turn = writer_turn(self._engine)
        if turn is None:
            return
        # Live read models first: this waits for a moment no awaited commit wants the writer.
        turn.for_owner("wal checkpoint", catching_up=True)
        with turn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.restarts += 1
