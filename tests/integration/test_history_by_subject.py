"""An aggregate's earlier events read subject by subject (`eventstore.history_by_subject`): the
same events, in the same order, as the wildcard read of `EventStore.load`."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.history_by_subject import HistoryReader
from eventstore.store import CommandMetadata, EventStore, NewEvent
from tests.support.ledger import LEDGER

ON = datetime(2020, 1, 1, tzinfo=UTC)


async def given(store: EventStore, ledger: str, types: list[str], command_id: str) -> int:
    history = await store.load(LEDGER, "ledger", ledger)
    events = [NewEvent(t, 1, {"amount": i + 1}, ON) for i, t in enumerate(types)]
    stored = await store.append(history, events, CommandMetadata(command_id, "test", command_id))
    return stored[-1].seq


async def stored_history(store: EventStore) -> dict[str, list[int]]:
    # Three event types on "l1", interleaved with "l10" (its id starts with "l1") and "l2".
    await given(store, "l1", ["EntryRecorded", "EntryNoted"], "a")
    await given(store, "l10", ["EntryRecorded", "EntryNoted", "EntryVoided"], "b")
    await given(store, "l2", ["EntryRecorded"], "c")
    await given(store, "l1", ["EntryVoided", "EntryRecorded"], "d")
    await given(store, "l2", ["EntryNoted"], "e")
    await given(store, "l1", ["EntryNoted"], "f")
    return {
        ledger: [e.seq for e in (await store.load(LEDGER, "ledger", ledger)).events]
        for ledger in ("l1", "l10", "l2")
    }


async def test_the_events_of_one_aggregate_before_a_sequence_as_the_wildcard_read(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    loaded = await stored_history(store)
    assert loaded["l1"] == [1, 2, 7, 8, 10]  # the wildcard read's answer, in stream order
    reader = HistoryReader(nats_client)
    for ledger, seqs in loaded.items():
        for before in (1, seqs[0], seqs[-1], seqs[-1] + 1, 100):
            earlier = await reader.before(LEDGER, "ledger", ledger, before)
            assert [e.seq for e in earlier] == [s for s in seqs if s < before]
    whole = await store.load(LEDGER, "ledger", "l1")
    assert await reader.before(LEDGER, "ledger", "l1", 100) == list(whole.events)
    assert await reader.before(LEDGER, "ledger", "nobody", 100) == []
    assert (reader.reads, reader.wildcard_reads) == (17, 0)  # never the wildcard read


async def test_more_subjects_than_one_answer_may_name_read_by_the_wildcard(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    loaded = await stored_history(store)
    reader = HistoryReader(nats_client, subjects_at_most=3)  # "l1" and "l10" have three each
    for ledger, seqs in loaded.items():
        earlier = await reader.before(LEDGER, "ledger", ledger, 100)
        assert [e.seq for e in earlier] == seqs
    assert (reader.reads, reader.wildcard_reads) == (3, 2)
