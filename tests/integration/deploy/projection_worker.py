"""A projection runner as its own process, so a test can SIGKILL it mid-batch.

    python -m tests.integration.deploy.projection_worker NATS_URL DATABASE_URL DELAY

Prints `applying <seq>` (flushed) before each event it applies, so the test knows a batch
is open, and `checkpoint <seq>` after each committed batch.
"""

from __future__ import annotations

import asyncio
import sys

import nats

from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import StoredEvent
from tests.integration.deploy.ledger_projection import LedgerTotals


def announce(event: StoredEvent) -> None:
    print(f"applying {event.seq}", flush=True)


async def main(nats_url: str, database_url: str, delay: float) -> None:
    nc = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    runner = ProjectionRunner(
        nc, make_engine(database_url), LedgerTotals(delay=delay, on_apply=announce), batch=25
    )
    await runner.start()
    print("started", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
