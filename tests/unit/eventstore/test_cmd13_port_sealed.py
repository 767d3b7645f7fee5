"""Every `EventStorePort` takes events sealed beforehand (`append(sealed=...)`, as
`EventStore` does for the command path's seal-ahead) and appends them as they are: the
memory store and the group commit's staged store, not only the JetStream store (cmd13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.group_append import StagedStore
from eventstore.memory import InMemoryEventStore
from eventstore.records import CommandMetadata, NewEvent

CLOCK = FixedClock(datetime(2026, 1, 15, 12, tzinfo=UTC))
# The store's own clock is a day later: an envelope it sealed itself would say so.
STORE_CLOCK = FixedClock(CLOCK.now() + timedelta(days=1))
META = CommandMetadata("c-1", "user:x", "c-1")


def _new(count: int) -> list[NewEvent]:
    return [NewEvent("TenderPlanned", 1, {"n": n}, CLOCK.now()) for n in range(count)]


async def test_the_memory_store_appends_the_envelopes_it_is_given() -> None:
    store = InMemoryEventStore(STORE_CLOCK)
    await store.ensure_stream(REGISTRY)
    history = await store.load(REGISTRY, "tender", "t-1")
    news = _new(2)
    sealed = InMemoryEventStore(CLOCK).seal(history, news, META)
    stored = await store.append(history, news, META, sealed=sealed)
    assert [e.envelope for e in stored] == sealed
    loaded = await store.load(REGISTRY, "tender", "t-1")
    assert [e.envelope.event_id for e in loaded.events] == [e.event_id for e in sealed]
    assert {e.envelope.recorded_at for e in loaded.events} == {CLOCK.now()}


async def test_the_staged_store_stages_the_envelopes_it_is_given() -> None:
    base = InMemoryEventStore(STORE_CLOCK)
    await base.ensure_stream(REGISTRY)
    staged = StagedStore(base)
    history = await staged.load(REGISTRY, "tender", "t-1")
    news = _new(1)
    sealed = InMemoryEventStore(CLOCK).seal(history, news, META)
    stored = await staged.append(history, news, META, sealed=sealed)
    assert [e.envelope for e in stored] == sealed
    assert [e.envelope for e in (await staged.load(REGISTRY, "tender", "t-1")).events] == sealed


def test_only_the_broker_store_asks_for_its_events_sealed_ahead() -> None:
    from eventstore.store import EventStore

    assert EventStore.SEALS_AHEAD
    assert not InMemoryEventStore.SEALS_AHEAD
    assert not StagedStore.SEALS_AHEAD
