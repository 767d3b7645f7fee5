"""The event store on a real JetStream server: concurrency, atomicity, chains, durability."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import nats.errors
import pytest

from contracts_schema.subjects import BoundedContext
from eventstore.errors import ConcurrencyConflict
from eventstore.hashing import verify_chain
from eventstore.store import CommandMetadata, EventStore, NewEvent

CTX = BoundedContext("ledger", "LEDGER")
WHEN = datetime(2020, 11, 13, tzinfo=UTC)


def new(n: int) -> NewEvent:
    return NewEvent("EntryRecorded", 1, {"amount": n}, WHEN)


def meta(command_id: str) -> CommandMetadata:
    return CommandMetadata(command_id=command_id, actor="test", correlation_id=command_id)


async def test_two_appends_at_same_version_exactly_one_wins(event_store: EventStore) -> None:
    await event_store.ensure_stream(CTX)
    history = await event_store.load(CTX, "ledger", "a")
    results = await asyncio.gather(
        event_store.append(history, [new(1)], meta("c1")),
        event_store.append(history, [new(2)], meta("c2")),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    successes = [r for r in results if isinstance(r, list)]
    assert len(conflicts) == 1
    assert len(successes) == 1
    reloaded = await event_store.load(CTX, "ledger", "a")
    assert [e.envelope.aggregate_version for e in reloaded.events] == [1]


async def test_fifty_racing_writers_leave_a_gap_free_sequence(event_store: EventStore) -> None:
    await event_store.ensure_stream(CTX)

    async def writer(i: int) -> int:
        conflicts = 0
        while True:
            history = await event_store.load(CTX, "ledger", "race")
            if any(e.envelope.payload["amount"] == i for e in history.events):
                return conflicts  # an append whose reply timed out had been stored
            try:
                await event_store.append(history, [new(i)], meta(f"w{i}"))
                return conflicts
            except ConcurrencyConflict:
                conflicts += 1
                await asyncio.sleep(0.001 * (i % 7))
            except nats.errors.TimeoutError:
                # Its outcome unknown (CI51 at load ~5: one of the ~1,300 replies of this race
                # did not come within 5 s), as any client's: look, then go on as it says.
                await asyncio.sleep(0.1)

    conflict_counts = await asyncio.gather(*(writer(i) for i in range(50)))
    history = await event_store.load(CTX, "ledger", "race")
    assert [e.envelope.aggregate_version for e in history.events] == list(range(1, 51))
    assert sorted(e.envelope.payload["amount"] for e in history.events) == list(range(50))
    assert sum(conflict_counts) > 0, "the writers should actually have raced"
    assert (
        verify_chain("ledger/race", [e.envelope.model_dump(mode="json") for e in history.events])
        == []
    )


async def test_three_events_append_all_or_none(event_store: EventStore) -> None:
    await event_store.ensure_stream(CTX)
    stale = await event_store.load(CTX, "ledger", "b")
    stored = await event_store.append(stale, [new(1), new(2), new(3)], meta("first"))
    assert [e.seq for e in stored] == [1, 2, 3]
    with pytest.raises(ConcurrencyConflict):
        await event_store.append(stale, [new(4), new(5), new(6)], meta("second"))
    history = await event_store.load(CTX, "ledger", "b")
    assert [e.envelope.payload["amount"] for e in history.events] == [1, 2, 3]
    assert await event_store.last_seq(CTX) == 3, "no part of the rejected batch was stored"


async def test_read_stream_returns_every_event_in_order(event_store: EventStore) -> None:
    await event_store.ensure_stream(CTX)
    for agg in ("x", "y"):
        for i in range(3):
            history = await event_store.load(CTX, "ledger", agg)
            await event_store.append(history, [new(i)], meta(f"{agg}{i}"))
    seqs = [e.seq async for e in event_store.read_stream(CTX)]
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert [e.seq async for e in event_store.read_stream(CTX, from_seq=5)] == [5, 6]
