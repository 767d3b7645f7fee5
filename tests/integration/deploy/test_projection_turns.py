"""Read models of one process share one SQLite writer: a slow one catching up on a backlog
takes its turns in short transactions, so a live one beside it keeps committing.

Before, the slow read model applied its whole backlog in one transaction while the others
waited for the writer (the freshness benchmark's probes were not visible for 15 s).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from nats.aio.client import Client as NATS
from sqlalchemy import Connection

from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import CommandMetadata, EventStore, NewEvent, StoredEvent
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals

BACKLOG = 150
NEW = 10


class SlowLedger(LedgerTotals):
    """A read model whose every event costs a while (an audit refolding a long history)."""

    name = "slow_ledger"

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        time.sleep(0.05)  # the backlog is 7.5 s of work
        super().apply(conn, event)


async def test_a_catching_up_read_model_does_not_hold_up_a_live_one(
    nats_client: NATS, fixed_clock: FixedClock, sqlite_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    for i in range(BACKLOG):
        await record(store, i)
    engine = make_engine(sqlite_url)  # one engine: one process's runners, one writer turn
    live = ProjectionRunner(nats_client, engine, LedgerTotals())
    await live.start()
    slow = ProjectionRunner(nats_client, engine, SlowLedger())
    try:
        assert await live.wait_until({LEDGER.stream: BACKLOG}, timeout=120)  # it is following
        await slow.start()
        assert await slow.wait_until({LEDGER.stream: 1}, timeout=120)  # it is catching up
        for i in range(BACKLOG, BACKLOG + NEW):
            await record(store, i)
        # The live read model got the writer between the slow one's short transactions: it
        # applied the new events while the slow one was still in its backlog (seconds of
        # work, whatever the machine's load).
        assert await live.wait_until({LEDGER.stream: BACKLOG + NEW}, timeout=120)
        assert slow.position(LEDGER.stream) < BACKLOG
        assert await slow.wait_until({LEDGER.stream: BACKLOG + NEW}, timeout=120)
    finally:
        await live.stop()
        await slow.stop()
        engine.dispose()


async def record(store: EventStore, i: int) -> None:
    history = await store.load(LEDGER, "ledger", f"l{i % 5}")
    event = NewEvent("EntryRecorded", 1, {"amount": 1}, datetime(2020, 1, 1, tzinfo=UTC))
    await store.append(history, [event], CommandMetadata(f"c{i}", "test", f"c{i}"))
