"""A staged twin's cached aggregate indexes its new events by command id only when asked:
asked, it answers exactly what `CachedAggregate`'s index answers."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts_schema.subjects import REGISTRY
from eventstore.aggregate_cache import CachedAggregate
from eventstore.clock import FixedClock
from eventstore.group_commit import _Commands, _StagedEntry
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent, seal

CLOCK = FixedClock(datetime(2026, 1, 15, 12, tzinfo=UTC))


def _events(history: AggregateHistory, command_id: str, count: int) -> list[StoredEvent]:
    news = [NewEvent("TenderPlanned", 1, {"n": n}, CLOCK.now()) for n in range(count)]
    sealed = seal(CLOCK, history, news, CommandMetadata(command_id, "import:x", command_id))
    return [StoredEvent(e, "REGISTRY", history.last_seq + 1 + i, "s") for i, e in enumerate(sealed)]


def test_the_index_asked_is_the_cached_aggregates_index() -> None:
    empty = AggregateHistory(REGISTRY, "tender", "t-1", (), 0)
    loaded = _events(empty, "c-0", 2)
    history = AggregateHistory(REGISTRY, "tender", "t-1", tuple(loaded), loaded[-1].seq)
    plain = CachedAggregate.of(history, "state")
    staged = _StagedEntry(plain.head, plain.state, _Commands(plain.commands), plain.events)
    head = history
    for command_id, count in (("c-1", 1), ("c-2", 3), ("c-1", 2), ("c-0", 1)):
        new = _events(head, command_id, count)
        plain.advance(new, "next")
        staged.advance(new, "next")
        head = AggregateHistory(REGISTRY, "tender", "t-1", (*head.events, *new), new[-1].seq)
    for command_id in ("c-0", "c-1", "c-2", "never"):
        assert staged.commands.get(command_id) == plain.commands.get(command_id)
    assert staged.events == plain.events
    assert staged.head == plain.head
