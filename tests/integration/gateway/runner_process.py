"""A projection process to kill with SIGKILL mid-batch: python -m ... <nats_url> <database_url>."""

from __future__ import annotations

import asyncio
import sys
import time

import nats
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from eventstore.projection import Failure, Prepared, Projection, ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import StoredEvent
from gateway.projections import ALL


class _SlowWrite:
    def __init__(self, prepared: Prepared, events: int) -> None:
        self.prepared, self.events = prepared, events

    def write(self, conn: Connection) -> list[Failure]:
        time.sleep(0.003 * self.events)  # inside the transaction, as the kill must be
        return self.prepared.write(conn)


def slowed(kind: type[Projection]) -> Projection:
    class Slow(kind):  # type: ignore[valid-type,misc]
        # Widen each batch's transaction so that the kill lands inside one: the runner applies
        # a batch prepared ahead (`prepare`, then `write` in the transaction) or whole.
        def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> Prepared | None:
            prepared: Prepared | None = super().prepare(dialect, events)
            return None if prepared is None else _SlowWrite(prepared, len(events))

        def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]:
            time.sleep(0.003 * len(events))
            failures: list[Failure] = super().apply_batch(conn, events)
            return failures

    return Slow()


async def main(nats_url: str, database_url: str) -> None:
    nc = await nats.connect(nats_url)
    engine = make_engine(database_url)
    for kind in ALL:
        await ProjectionRunner(nc, engine, slowed(kind), batch=40).start()
    print("started", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
