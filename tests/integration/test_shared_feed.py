"""The runners of one process share one consumer per stream (`eventstore.subscription._Feed`):
each keeps its own checkpoint and exactly-once, one whose database fails neither stops nor
corrupts the others and, once it works again, resumes from its own checkpoint; so does
every runner after a restart."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.aio.client import Client as NATS
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import CommandMetadata, EventStore, NewEvent, StoredEvent
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals


class FailingTotals(LedgerTotals):
    """The same read model under another name, whose database fails while `broken`."""

    name = "ledger_totals_failing"
    broken = False

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        if FailingTotals.broken:  # the database, not the event: the batch fails, nothing parks
            raise OperationalError("INSERT ...", {}, Exception("disk I/O error"))
        super().apply(conn, event)


async def append(store: EventStore, amount: int, command_id: str) -> int:
    ledger = f"l{amount % 3}"
    history = await store.load(LEDGER, "ledger", ledger)
    event = NewEvent("EntryRecorded", 1, {"amount": amount}, datetime(2020, 1, 1, tzinfo=UTC))
    stored = await store.append(history, [event], CommandMetadata(command_id, "test", command_id))
    return stored[-1].seq


def expected(amounts: list[int]) -> list[tuple[str, int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for amount in amounts:
        total, entries = totals.get(f"l{amount % 3}", (0, 0))
        totals[f"l{amount % 3}"] = (total + amount, entries + 1)
    return [(k, *v) for k, v in sorted(totals.items())]


async def test_one_consumer_per_stream_and_a_failing_runner_stops_no_other(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    engine = make_engine(database_url)
    amounts: list[int] = []

    async def more(count: int) -> int:
        last = 0
        for _ in range(count):
            amounts.append(len(amounts) + 1)
            last = await append(store, amounts[-1], f"a{len(amounts)}")
        return last

    def start_both() -> list[ProjectionRunner]:
        return [
            ProjectionRunner(nats_client, engine, p, batch=4)
            for p in (LedgerTotals(), FailingTotals())
        ]

    last = await more(10)
    runners = start_both()
    FailingTotals.broken = False
    try:
        for runner in runners:
            await runner.start()
        for runner in runners:
            assert await runner.wait_until({"LEDGER": last}, timeout=30)
        # Both read the stream through one consumer of it.
        info = await nats_client.jetstream().stream_info(LEDGER.stream)
        assert info.state.consumer_count == 1

        FailingTotals.broken = True
        before = runners[1].position("LEDGER")
        last = await more(6)
        assert await runners[0].wait_until({"LEDGER": last}, timeout=30)
        assert runners[1].position("LEDGER") == before  # nothing of its failed batches
        assert (await runners[1].status()).streams[0].lag_events == last - before

        FailingTotals.broken = False  # it works again: it goes on from its checkpoint
        assert await runners[1].wait_until({"LEDGER": last}, timeout=60)
    finally:
        FailingTotals.broken = False
        for runner in runners:
            await runner.stop()

    # Restarted: each resumes from its own checkpoint.
    last = await more(5)
    runners = start_both()
    try:
        for runner in runners:
            await runner.start()
        for runner in runners:
            assert await runner.wait_until({"LEDGER": last}, timeout=30)
    finally:
        for runner in runners:
            await runner.stop()
    with engine.connect() as conn:
        for runner in runners:
            assert runner.projection.rows(conn) == expected(amounts)  # type: ignore[attr-defined]
            assert runner.parked_count == 0
