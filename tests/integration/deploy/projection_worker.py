"""A projection runner as its own process, so a test can SIGKILL it mid-batch.

    python -m tests.integration.deploy.projection_worker NATS_URL DATABASE_URL

It commits its first batch, then stops inside the next batch's transaction, after applying
an event there: it prints `holding <committed> <applied>` (flushed) and sleeps until it is
killed. The test kills it on that line, so the kill lands in an open transaction by count,
not by timing (it used to kill on a stale `applying` line read from the pipe, after looking
at the checkpoint: a batch committed in between, on a loaded machine, and the kill came late).
"""

from __future__ import annotations

import asyncio
import sys
import time

import nats
from sqlalchemy import Connection, select

from eventstore.projection import ProjectionRunner, checkpoints
from eventstore.sql import make_engine
from eventstore.store import StoredEvent
from tests.integration.deploy.ledger_projection import LedgerTotals


class Holding(LedgerTotals):
    def apply(self, conn: Connection, event: StoredEvent) -> None:
        super().apply(conn, event)
        # The runner moves the checkpoint at the end of a batch's transaction: what this
        # transaction reads is the last batch committed.
        committed = conn.execute(
            select(checkpoints.c.seq).where(checkpoints.c.projection == self.key)
        ).scalar_one_or_none()
        if committed:
            print(f"holding {committed} {event.seq}", flush=True)
            while True:  # the transaction stays open until SIGKILL
                time.sleep(1)


async def main(nats_url: str, database_url: str) -> None:
    nc = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    runner = ProjectionRunner(nc, make_engine(database_url), Holding(), batch=25)
    await runner.start()
    print("started", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
