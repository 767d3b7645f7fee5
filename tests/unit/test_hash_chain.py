"""The per-aggregate hash chain names the exact event that was altered, removed or moved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts_schema.subjects import BoundedContext
from eventstore.clock import FixedClock
from eventstore.hashing import verify_chain
from eventstore.store import AggregateHistory, CommandMetadata, EventStore, NewEvent

CTX = BoundedContext("ledger", "LEDGER")


def chain(n: int) -> list[dict[str, Any]]:
    # `seal` is pure: it needs no connection, only the clock.
    store = EventStore(None, FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))  # type: ignore[arg-type]
    history = AggregateHistory(CTX, "ledger", "h", (), 0)
    events = [
        NewEvent("EntryRecorded", 1, {"amount": i}, datetime(2020, 1, i + 1, tzinfo=UTC))
        for i in range(n)
    ]
    sealed = store.seal(history, events, CommandMetadata("c", "auditor", "c"))
    return [e.model_dump(mode="json") for e in sealed]


def test_untouched_chain_verifies() -> None:
    assert verify_chain("ledger/h", chain(5)) == []


def test_altered_payload_is_named() -> None:
    events = chain(5)
    events[2]["payload"]["amount"] = 1000
    problems = verify_chain("ledger/h", events)
    assert [(p.position, p.event_id, p.kind) for p in problems] == [
        (2, events[2]["event_id"], "altered")
    ]


def test_altered_valid_time_is_named() -> None:
    events = chain(3)
    events[1]["occurred_at"] = "2019-01-01T00:00:00Z"
    assert [(p.position, p.kind) for p in verify_chain("ledger/h", events)] == [(1, "altered")]


def test_removed_event_is_named() -> None:
    events = chain(5)
    del events[2]
    problems = verify_chain("ledger/h", events)
    assert {(p.position, p.event_id, p.kind) for p in problems} == {
        (2, events[2]["event_id"], "gap"),
        (2, events[2]["event_id"], "broken-link"),
    }


def test_reordered_events_are_named() -> None:
    events = chain(4)
    events[1], events[2] = events[2], events[1]
    kinds = {(p.position, p.kind) for p in verify_chain("ledger/h", events)}
    assert (1, "gap") in kinds
    assert (1, "broken-link") in kinds
    assert (2, "reordered") in kinds


def test_rehashed_forgery_still_breaks_the_link() -> None:
    # A forger who recomputes the altered event's own hash still breaks its successor's link.
    from eventstore.hashing import envelope_hash

    events = chain(3)
    events[1]["payload"]["amount"] = 77
    events[1]["hash"] = envelope_hash(events[1])
    problems = verify_chain("ledger/h", events)
    assert [(p.position, p.kind) for p in problems] == [(2, "broken-link")]
