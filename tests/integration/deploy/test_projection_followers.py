"""A reader in another process follows a projection by its runner's announcements.

The runner that applies (the projector) announces each commit's positions on NATS core; a
follower (the gateway: `follow=True`, it never applies) wakes on them for read-your-writes.
An announcement NATS lost costs no answer: before a wait gives up, one look at the checkpoints.
A follower never claims a position its projector has not reached: the wait ends false, and the
gateway's read models answer CONSISTENCY_TIMEOUT naming the read model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.subjects import BoundedContext
from eventstore.clock import FixedClock
from eventstore.ports import Handler
from eventstore.projection import ProjectionRunner
from eventstore.records import AggregateHistory
from eventstore.sources import JetStreamSource
from eventstore.sql import make_engine
from eventstore.store import CommandMetadata, EventStore, NewEvent
from eventstore.subscription import DurableSubscriber
from gateway.readmodels import AUDIT_HISTORY, ConsistencyError, ReadModels
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals


async def record(store: EventStore, count: int) -> int:
    last = 0
    for i in range(count):
        history = await store.load(LEDGER, "ledger", f"l{i % 3}")
        event = NewEvent("EntryRecorded", 1, {"amount": i + 1}, datetime(2020, 1, 1, tzinfo=UTC))
        stored = await store.append(history, [event], CommandMetadata(f"c{i}", "test", f"c{i}"))
        last = stored[-1].seq
    return last


class Unannounced:
    """The JetStream source of a runner whose announcements never arrive (as if NATS lost
    them): not a `JetStreamSource`, so the runner has nothing to announce on."""

    def __init__(self, nc: NATS) -> None:
        self._source = JetStreamSource(nc)

    def subscriber(
        self,
        context: BoundedContext,
        durable: str,
        handler: Handler,
        *,
        batch: int = 256,
        subject_filter: str | None = None,
        position: Callable[[], int] | None = None,
    ) -> DurableSubscriber:
        return self._source.subscriber(
            context,
            durable,
            handler,
            batch=batch,
            subject_filter=subject_filter,
            position=position,
        )

    async def last_seq(self, context: BoundedContext) -> int:
        return await self._source.last_seq(context)

    async def load(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str
    ) -> AggregateHistory:
        return await self._source.load(context, aggregate_type, aggregate_id)


@pytest.fixture
async def store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    return store


async def test_a_follower_wakes_on_the_announced_positions(
    nats_client: NATS, store: EventStore, database_url: str
) -> None:
    engine = make_engine(database_url)
    projector = ProjectionRunner(nats_client, engine, LedgerTotals())
    await projector.start()
    follower = ProjectionRunner(nats_client, engine, LedgerTotals(), follow=True)
    await follower.start()
    try:
        last = await record(store, 12)
        assert await follower.wait_until({LEDGER.stream: last}, timeout=120)
        assert follower.positions[LEDGER.stream] >= last
        assert follower.checkpoint_looks == 0  # woken by announcements, not the database
        assert not follower.leading
        assert follower.problem is None
        assert follower.live
    finally:
        await follower.stop()
        await projector.stop()
        engine.dispose()


async def test_a_lost_announcement_costs_no_answer(
    nats_client: NATS, store: EventStore, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    projector = ProjectionRunner(Unannounced(nats_client), engine, LedgerTotals())
    await projector.start()
    follower = ProjectionRunner(nats_client, engine, LedgerTotals(), follow=True)
    await follower.start()
    try:
        last = await record(store, 5)
        assert await projector.wait_until({LEDGER.stream: last}, timeout=120)
        # Nothing announced: the follower's bounded wait ends on one look at the checkpoints.
        assert await follower.wait_until({LEDGER.stream: last}, timeout=0.5)
        assert follower.checkpoint_looks == 1
    finally:
        await follower.stop()
        await projector.stop()
        engine.dispose()


async def test_a_follower_never_claims_a_position_its_projector_has_not_reached(
    nats_client: NATS, store: EventStore, sqlite_url: str
) -> None:
    last = await record(store, 3)
    engine = make_engine(sqlite_url)
    follower = ProjectionRunner(nats_client, engine, LedgerTotals(), follow=True)
    await follower.start()  # no projector: no tables yet, nothing applied
    try:
        assert not await follower.wait_until({LEDGER.stream: last}, timeout=0.2)
        assert follower.positions.get(LEDGER.stream, 0) == 0
        read = ReadModels(engine, [follower])
        with pytest.raises(ConsistencyError) as refused:
            await read.wait_for(f"{LEDGER.stream}:{last}", timeout=0.2)
        assert refused.value.code == "CONSISTENCY_TIMEOUT"
        assert "ledger_totals_v1" in refused.value.message
    finally:
        await follower.stop()
        engine.dispose()


class HistoryLedger(LedgerTotals):
    """A read model that stands where the audit's history read model stands among the
    gateway's runners (only `entitiesAsOf` reads it)."""

    name = AUDIT_HISTORY


async def test_a_token_waits_for_the_gateways_read_models_not_the_audits_history(
    nats_client: NATS, store: EventStore, sqlite_url: str
) -> None:
    last = await record(store, 3)
    engine = make_engine(sqlite_url)
    projector = ProjectionRunner(nats_client, engine, LedgerTotals())
    await projector.start()
    follower = ProjectionRunner(nats_client, engine, LedgerTotals(), follow=True)
    history = ProjectionRunner(nats_client, engine, HistoryLedger(), follow=True)  # never applied
    await follower.start()
    await history.start()
    try:
        read = ReadModels(engine, [follower, history])
        await read.wait_for(f"{LEDGER.stream}:{last}", timeout=120)  # the history lags: no matter
        assert follower.positions.get(LEDGER.stream, 0) >= last
        # The one field that reads the history waits for it, and says so when it lags.
        with pytest.raises(ConsistencyError) as refused:
            await read.reach_present(0.2, audit=True)
        assert refused.value.code == "HORIZON_NOT_REACHED"
        assert AUDIT_HISTORY in refused.value.message
    finally:
        await history.stop()
        await follower.stop()
        await projector.stop()
        engine.dispose()
