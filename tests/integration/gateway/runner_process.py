"""A projection process to kill with SIGKILL mid-batch.

python -m tests.integration.gateway.runner_process <nats_url> <database_url> <marker> <key>

The projection whose key is <key> commits its first batch, then stops inside its second batch's
transaction: it creates <marker> and sleeps there until it is killed. The test kills it when the
marker appears, so the kill lands inside an open transaction by count, not by timing.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import nats
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from eventstore.projection import Failure, Prepared, Projection, ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import StoredEvent
from gateway.projections import ALL


class _Stop:
    """Counts the batches written inside a transaction; stops for good inside the second."""

    def __init__(self, marker: Path) -> None:
        self.marker, self.batches = marker, 0

    def inside_transaction(self) -> None:
        self.batches += 1
        if self.batches >= 2:
            self.marker.touch()
            while True:  # the transaction stays open until SIGKILL
                time.sleep(1)


class _StoppingWrite:
    def __init__(self, prepared: Prepared, stop: _Stop) -> None:
        self.prepared, self.stop = prepared, stop

    def write(self, conn: Connection) -> list[Failure]:
        failures = self.prepared.write(conn)
        self.stop.inside_transaction()
        return failures


def stopping(kind: type[Projection], stop: _Stop) -> Projection:
    class Stopping(kind):  # type: ignore[valid-type,misc]
        # The runner applies a batch prepared ahead (`prepare`, then `write` in the
        # transaction) or whole (`apply_batch`); both stop after writing, before the commit.
        def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> Prepared | None:
            prepared: Prepared | None = super().prepare(dialect, events)
            return None if prepared is None else _StoppingWrite(prepared, stop)

        def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
            failures: list[Failure] = super().apply_batch(conn, events)
            stop.inside_transaction()
            return failures

    return Stopping()


async def main(nats_url: str, database_url: str, marker: Path, key: str) -> None:
    nc = await nats.connect(nats_url)
    engine = make_engine(database_url)
    for kind in ALL:
        projection = stopping(kind, _Stop(marker)) if kind().key == key else kind()
        await ProjectionRunner(nc, engine, projection, batch=40).start()
    print("started", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]))
