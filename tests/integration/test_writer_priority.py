"""On one SQLite writer, a read model that readers wait for (read-your-writes) commits before
one nobody waits for (`Projection.awaited`, the audit's history), whichever asked first.

The turn is held from here while both runners wait for it with an event each; the order in
which they then apply is what the test reads (an order, not a time).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from sqlalchemy import Connection

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from eventstore.projection import ProjectionRunner, writer_turn
from eventstore.sql import make_engine
from eventstore.store import CommandMetadata, NewEvent, StoredEvent
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals

APPLIED: list[str] = []


class Awaited(LedgerTotals):
    name = "ledger_awaited"

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        APPLIED.append(self.name)
        super().apply(conn, event)


class NobodyWaits(Awaited):
    name = "ledger_history"
    awaited = False


async def until(condition: object, what: str) -> None:
    for _ in range(6000):  # a bound against a hang, not a timing: the order is the assertion
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_an_awaited_read_model_writes_before_one_nobody_waits_for(
    fixed_clock: FixedClock, sqlite_url: str
) -> None:
    APPLIED.clear()
    store = InMemoryEventStore(fixed_clock)
    await store.ensure_stream(LEDGER)
    engine = make_engine(sqlite_url)  # one engine: one process's runners, one writer turn
    turn = writer_turn(engine)
    assert turn is not None
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with turn:
            held.set()
            release.wait()

    holder = asyncio.create_task(asyncio.to_thread(hold))
    history = ProjectionRunner(store, engine, NobodyWaits())
    awaited = ProjectionRunner(store, engine, Awaited())
    try:
        await asyncio.to_thread(held.wait)
        await history.start()
        loaded = await store.load(LEDGER, "ledger", "l1")
        event = NewEvent("EntryRecorded", 1, {"amount": 1}, datetime(2020, 1, 1, tzinfo=UTC))
        await store.append(loaded, [event], CommandMetadata("c1", "test", "c1"))
        await until(lambda: turn.waiting() == 1, "the history's runner asks for the writer")
        await awaited.start()  # asks second
        await until(lambda: turn.waiting() == 2, "the awaited runner asks for the writer")
        release.set()
        await holder
        assert await awaited.wait_until({LEDGER.stream: 1}, timeout=120)
        assert await history.wait_until({LEDGER.stream: 1}, timeout=120)
    finally:
        release.set()
        await holder
        await history.stop()
        await awaited.stop()
        engine.dispose()
    assert APPLIED == ["ledger_awaited", "ledger_history"]
