"""eventstore.trust.Duplicates.refusals: a batch judged under one lock, and a batch inside a
run another reader already judged answered from the verdicts found. Either way every reader
must get exactly the verdicts `check` gives event by event, in any order of readers and
batch sizes. Sealed envelopes, no broker needed."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime

import pytest

from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent, seal
from eventstore.trust import DUPLICATE, Duplicates

CLOCK = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
STREAM = REGISTRY.stream


def _stream(seed: int) -> list[StoredEvent]:
    """Chains of a few programmes, interleaved, with exact copies and forks of earlier
    versions published later, and an event refused when read (`refused` set)."""
    rng = random.Random(seed)
    heads: dict[str, AggregateHistory] = {}
    out: list[StoredEvent] = []
    for n in range(300):
        aggregate = f"p{rng.randrange(12)}"
        if out and rng.random() < 0.08:  # a later copy of an earlier message: a duplicate
            copied = rng.choice(out)
            out.append(StoredEvent(copied.envelope, STREAM, len(out) + 1, copied.subject))
            continue
        head = heads.get(aggregate) or AggregateHistory(REGISTRY, "programme", aggregate, (), 0)
        if head.events and rng.random() < 0.05:  # a fork: the same version again
            head = AggregateHistory(REGISTRY, "programme", aggregate, (), 0)
        new = NewEvent("ProgrammeRenamed", 1, {"programme_id": aggregate, "n": n}, CLOCK.now())
        envelope = seal(CLOCK, head, [new], CommandMetadata(f"c{n}", "a", f"c{n}"))[0]
        stored = StoredEvent(envelope, STREAM, len(out) + 1, "s")
        if rng.random() < 0.02:
            stored = dataclasses.replace(stored, refused="altered: made up for the test")
        out.append(stored)
        heads[aggregate] = AggregateHistory(REGISTRY, "programme", aggregate, (stored,), stored.seq)
    return out


def _one_by_one(duplicates: Duplicates, events: list[StoredEvent]) -> dict[int, str]:
    """What a reader got before batches: `refused`, else `check`, event by event."""
    reasons = ((e.seq, e.refused or duplicates.check(e)) for e in events)
    return {seq: why for seq, why in reasons if why is not None}


def _batches(events: list[StoredEvent], rng: random.Random) -> list[list[StoredEvent]]:
    out, at = [], 0
    while at < len(events):
        size = rng.choice([1, 7, 50, 2000])
        out.append(events[at : at + size])
        at += size
    return out


@pytest.mark.parametrize("seed", range(12))
def test_every_reader_gets_the_verdicts_of_checking_one_by_one(seed: int) -> None:
    events = _stream(seed)
    rng = random.Random(seed)
    assert any(w.startswith(DUPLICATE) for w in _one_by_one(Duplicates(), events).values())
    # Five readers, each in batches of its own sizes, taking turns at random (a rebuild's
    # read models, one ahead of another); one reader starts late, one re-reads a batch. The
    # same schedule is run twice: batches judged by `refusals`, and event by event.
    readers = [_batches(events, rng) for _ in range(5)]
    readers[4] = [events[100:]] + readers[4]
    schedule: list[tuple[int, list[StoredEvent]]] = []
    positions = [0] * len(readers)
    while any(p < len(b) for p, b in zip(positions, readers, strict=True)):
        r = rng.choice([i for i, b in enumerate(readers) if positions[i] < len(b)])
        schedule.append((r, readers[r][positions[r]]))
        if rng.random() < 0.1:  # a retried batch (a transaction that did not commit)
            schedule.append((r, readers[r][positions[r]]))
        positions[r] += 1
    batched, single = Duplicates(), Duplicates()
    for reader, batch in schedule:
        assert batched.refusals(STREAM, batch) == _one_by_one(single, batch), (reader, batch[0])


def test_a_batch_inside_a_judged_run_still_names_its_duplicates() -> None:
    events = _stream(3)
    shared = Duplicates()
    first = shared.refusals(STREAM, events)
    duplicates = {s for s, w in first.items() if w.startswith(DUPLICATE)}
    assert duplicates
    # A second reader, a batch in the middle of the run the first reader judged.
    middle = [e for e in events if min(duplicates) - 3 <= e.seq <= max(duplicates) + 3]
    assert shared.refusals(STREAM, middle) == {
        s: w for s, w in first.items() if middle[0].seq <= s <= middle[-1].seq
    }


def test_runs_judged_apart_are_not_taken_for_the_gap_between_them() -> None:
    events = _stream(5)
    late, early, gap = events[-1:], events[:10], events[10:-1]
    batched, single = Duplicates(), Duplicates()
    verdicts = []
    for batch in (late, early, gap, events):
        verdicts.append(_one_by_one(single, batch))
        assert batched.refusals(STREAM, batch) == verdicts[-1]
    assert any(w.startswith(DUPLICATE) for w in verdicts[2].values())  # found in the gap
