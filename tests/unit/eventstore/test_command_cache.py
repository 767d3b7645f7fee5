"""The command side keeps folded aggregates: a warm command neither loads nor folds the history,
a cache made stale by another process is caught by the expected-sequence append, and the
commands of one aggregate queue within a process. Loads and conflicts are counted through the
store's public port (`EventStorePort.load` / `append`) on the in-memory store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime

import pytest

from contracts_schema.base import DomainEvent
from contracts_schema.errors import RuleViolation
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import BoundedContext
from eventstore.aggregate_cache import AggregateCache, AggregateLocks, CachedAggregate
from eventstore.clock import FixedClock
from eventstore.commands import CommandRoute, CommandService, DecisionContext
from eventstore.errors import ConcurrencyConflict
from eventstore.memory import InMemoryEventStore
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent
from tests.support.ledger import DECIDER, EVENT_TYPES, LEDGER, ROUTES, EntryRecorded, Ledger
from tests.support.ledger import RecordEntries as Record


class CountingStore(InMemoryEventStore):
    """The in-memory store, counting what a command service asks of it."""

    loads = 0
    conflicts = 0
    read = 0  # events read through read_stream (a stale cache catching up)

    async def load(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str
    ) -> AggregateHistory:
        self.loads += 1
        return await super().load(context, aggregate_type, aggregate_id)

    async def read_stream(
        self, context: BoundedContext, from_seq: int = 1, subject_filter: str | None = None
    ) -> AsyncIterator[StoredEvent]:
        async for event in super().read_stream(context, from_seq, subject_filter):
            self.read += 1
            yield event

    async def append(
        self,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> list[StoredEvent]:
        try:
            return await super().append(history, new_events, meta, headers=headers)
        except ConcurrencyConflict:
            self.conflicts += 1
            raise


LIMIT = 10


def capped(state: Ledger, command: Record, _ctx: DecisionContext) -> Sequence[DomainEvent]:
    """A rule that reads the state: the ledger's total stays at or below LIMIT."""
    if state.total + sum(command.amounts) > LIMIT:
        raise RuleViolation("OVER_LIMIT", f"the total would exceed {LIMIT}")
    return [EntryRecorded(amount=a) for a in command.amounts]


CAPPED = [CommandRoute(Record, DECIDER, lambda c: c.ledger_id, capped)]


@pytest.fixture
async def store() -> CountingStore:
    store = CountingStore(FixedClock(datetime(2026, 1, 15, 12, tzinfo=UTC)))
    await store.ensure_stream(LEDGER)
    return store


async def service(
    store: CountingStore, routes: Sequence[CommandRoute[Ledger, Record]] = ROUTES
) -> CommandService:
    """One process's command service (each call: another process on the same store)."""
    made = CommandService(
        LEDGER, store, FixedClock(datetime(2026, 1, 15, 12, tzinfo=UTC)), routes, EVENT_TYPES
    )
    await made.start()
    return made


async def send(svc: CommandService, command_id: str, *amounts: int) -> CommandAccepted:
    reply = await svc.execute(
        svc_route(svc),
        Record(command_id=command_id, ledger_id="l", amounts=list(amounts)),
        CommandMetadata(command_id, "t", command_id),
    )
    assert isinstance(reply, CommandAccepted), reply
    return reply


def svc_route(svc: CommandService) -> CommandRoute[Ledger, Record]:
    return svc._routes["RecordEntries"]


async def versions(store: CountingStore) -> list[int]:
    history = await InMemoryEventStore.load(store, LEDGER, "ledger", "l")
    return [e.envelope.aggregate_version for e in history.events]


async def test_a_command_on_a_cached_long_aggregate_does_not_load_its_history_again(
    store: CountingStore,
) -> None:
    writer = await service(store)
    for batch in range(10):  # 1,000 events, written by an earlier process
        await send(writer, f"fill-{batch}", *range(1, 101))
    ours = await service(store)
    store.loads = 0
    await send(ours, "first", 1)
    assert store.loads == 1  # cold: the history is loaded and folded once
    for i in range(20):
        reply = await send(ours, f"warm-{i}", 1)
        assert reply.events[0].aggregate_version == 1_002 + i
    assert store.loads == 1
    assert await versions(store) == list(range(1, 1_022))


async def test_a_duplicate_on_a_cached_aggregate_is_answered_without_a_load(
    store: CountingStore,
) -> None:
    svc = await service(store)
    first = await send(svc, "once", 4, 5)
    loads = store.loads
    again = await send(svc, "once", 4, 5)
    assert (again.duplicate, again.events) == (True, first.events)
    assert store.loads == loads
    assert await versions(store) == [1, 2]


async def test_a_cache_made_stale_by_another_process_is_caught_and_the_command_lands(
    store: CountingStore,
) -> None:
    ours, theirs = await service(store), await service(store)
    await send(ours, "a", *range(1, 101))  # ours now caches the ledger at version 100
    await send(theirs, "b", 2)  # another process appends behind our back
    store.loads = 0
    reply = await send(ours, "c", 3)
    assert store.conflicts == 1  # the expected sequence (our cached head) was stale
    # Caught up, decided again: only the one event after our head was read, not the history.
    assert (store.loads, store.read) == (0, 1)
    assert reply.events[0].aggregate_version == 102
    history = await InMemoryEventStore.load(store, LEDGER, "ledger", "l")
    assert [e.envelope.payload["amount"] for e in history.events] == [*range(1, 101), 2, 3]
    # And the refreshed cache goes on without loads, reads or conflicts.
    await send(ours, "d", 4)
    assert (store.loads, store.read, store.conflicts) == (0, 1, 1)
    # A retry of the other process's command here is answered as the duplicate it is.
    again = await send(ours, "b", 2)
    assert again.duplicate
    assert (store.loads, store.conflicts) == (0, 1)


async def test_a_refusal_is_given_on_the_aggregate_as_stored_not_on_a_stale_cache(
    store: CountingStore,
) -> None:
    ours, theirs = await service(store, CAPPED), await service(store, CAPPED)
    await send(ours, "a", 6)  # ours caches total 6
    await send(theirs, "b", -5)  # stored total is now 1
    reply = await send(ours, "c", 6)  # 6 + 6 > 10 by the cache, 1 + 6 <= 10 as stored
    assert reply.events[0].aggregate_version == 3
    refused = await ours.execute(
        svc_route(ours),
        Record(command_id="d", ledger_id="l", amounts=[4]),
        CommandMetadata("d", "t", "d"),
    )
    assert isinstance(refused, CommandRejected)
    assert refused.code == "OVER_LIMIT"


async def test_two_hundred_concurrent_commands_on_one_aggregate_queue_without_conflicts(
    store: CountingStore,
) -> None:
    svc = await service(store)
    replies = await asyncio.gather(*(send(svc, f"c-{i}", i + 1) for i in range(200)))
    assert all(not r.duplicate for r in replies)
    assert store.conflicts == 0
    assert await versions(store) == list(range(1, 201))
    history = await InMemoryEventStore.load(store, LEDGER, "ledger", "l")
    assert sorted(e.envelope.payload["amount"] for e in history.events) == list(range(1, 201))


def _entry(events: int) -> CachedAggregate:
    entry = CachedAggregate(AggregateHistory(LEDGER, "ledger", "x", (), 0), Ledger())
    entry.events = events
    return entry


def test_the_cache_is_bounded_by_aggregates_and_by_events_least_recently_used_first() -> None:
    cache = AggregateCache(max_aggregates=3, max_events=100)
    for name in "abc":
        cache.put(("ledger", "ledger", name), _entry(30))
    assert cache.get(("ledger", "ledger", "a")) is not None  # a is now the most recent
    cache.put(("ledger", "ledger", "d"), _entry(30))  # four aggregates: b goes
    assert cache.get(("ledger", "ledger", "b")) is None
    cache.grew(("ledger", "ledger", "d"), 20)  # 110 events: the oldest, c, goes
    assert cache.get(("ledger", "ledger", "c")) is None
    assert len(cache) == 2
    cache.put(("ledger", "ledger", "huge"), _entry(500))  # larger than the bound: not kept
    assert cache.get(("ledger", "ledger", "huge")) is None


async def test_an_evicted_aggregate_is_loaded_again_and_commands_still_land(
    store: CountingStore,
) -> None:
    svc = CommandService(
        LEDGER,
        store,
        FixedClock(datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ROUTES,
        EVENT_TYPES,
        cache=AggregateCache(max_aggregates=1),
    )
    await svc.start()
    for i in range(3):
        for ledger in ("l", "m"):
            reply = await svc.execute(
                svc_route(svc),
                Record(command_id=f"{ledger}-{i}", ledger_id=ledger, amounts=[1]),
                CommandMetadata(f"{ledger}-{i}", "t", f"{ledger}-{i}"),
            )
            assert isinstance(reply, CommandAccepted)
            assert reply.events[0].aggregate_version == i + 1
    assert store.loads == 6  # every command found its aggregate evicted by the other's


async def test_aggregate_locks_are_released_when_nobody_holds_or_waits() -> None:
    locks = AggregateLocks()
    order: list[int] = []

    async def hold(i: int) -> None:
        async with locks.hold(("ledger", "ledger", "l")):
            order.append(i)
            await asyncio.sleep(0)
            order.append(i)

    await asyncio.gather(*(hold(i) for i in range(5)))
    assert order == [i for i in range(5) for _ in (0, 1)]  # one at a time, in arrival order
    assert len(locks) == 0
