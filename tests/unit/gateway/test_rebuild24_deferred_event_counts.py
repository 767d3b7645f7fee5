"""rebuild24: a rebuild from nothing (a split rebuild's group on its fresh SQLite file) counts
the event log's horizon counts (`event_counts`: the Fenwick tree of (valid week, known week)
cells, the late events, each aggregate's latest known instant) in memory and writes them once
at its end. The rows must be exactly those the batches would have kept, at any batch size,
and a batch applied again (its transaction did not commit) must not be counted twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bench.direct import stored_events
from bench.history.generator import generate
from bootstrap.parts import projection_runner
from eventstore.records import StoredEvent
from eventstore.split_rebuild import _deferring, _derive
from eventstore.sql import make_engine
from gateway.projections.event_counts import EventCountsProjection
from tests.unit.gateway.test_rebuild23_deferred_counts import _batches, _build, _count, _rows

TABLES = ("tree", "late", "aggregates")


@pytest.fixture(scope="module")
def streams() -> dict[str, list[StoredEvent]]:
    return stored_events(generate(seed=23, events=6_000))


@pytest.mark.parametrize("batch", [500, 37, 1])
def test_counted_in_memory_then_written_equals_counted_per_batch(
    streams: dict[str, list[StoredEvent]], tmp_path: Path, batch: int
) -> None:
    if batch == 1:  # every event its own batch: a shorter history
        streams = {s: events[:400] for s, events in streams.items()}
    per_batch = make_engine(f"sqlite:///{tmp_path}/per-batch.db")
    deferred = make_engine(f"sqlite:///{tmp_path}/deferred.db")
    expected = _rows(
        per_batch, _build(per_batch, streams, EventCountsProjection, batch, defer=False)
    )
    projection = _build(deferred, streams, EventCountsProjection, batch, defer=True)
    names = [f"{projection.key}_{t}" for t in TABLES]
    assert {t: _count(deferred, t) for t in names} == dict.fromkeys(names, 0)  # nothing yet
    _derive(deferred, [projection])
    assert projection.deferring is False
    got = _rows(deferred, projection)
    assert got == expected
    assert all(expected[f"{projection.key}_{t}"] for t in ("tree", "aggregates"))


def test_the_late_events_too(tmp_path: Path) -> None:
    """An aggregate's version recorded before the one it follows (a legacy history recorded
    backwards) is known later than recorded: kept in `late` with the instant it became known,
    the same whole as per batch (the generated history records by the rule: none there)."""
    streams = stored_events(generate(seed=5, events=1_500))
    stream, events = max(streams.items(), key=lambda kv: len(kv[1]))
    # Every aggregate's later versions recorded a day before the version they follow.
    shifted: list[StoredEvent] = []
    for event in events:
        e = event.envelope
        if e.aggregate_version > 1:
            day = e.recorded_at.replace(year=e.recorded_at.year - 1)
            event = StoredEvent(
                e.model_copy(update={"recorded_at": day}), event.stream, event.seq, event.subject
            )
        shifted.append(event)
    only = {stream: shifted}
    per_batch = make_engine(f"sqlite:///{tmp_path}/per-batch.db")
    deferred = make_engine(f"sqlite:///{tmp_path}/deferred.db")
    expected = _rows(per_batch, _build(per_batch, only, EventCountsProjection, 97, defer=False))
    projection = _build(deferred, only, EventCountsProjection, 97, defer=True)
    _derive(deferred, [projection])
    got = _rows(deferred, projection)
    assert got == expected
    assert len(expected[f"{projection.key}_late"]) > 10


def test_a_batch_applied_again_is_counted_once(
    streams: dict[str, list[StoredEvent]], tmp_path: Path
) -> None:
    """A batch whose transaction did not commit is applied again by the runner: the counts
    kept in memory (outside the transaction) take its events once."""
    per_batch = make_engine(f"sqlite:///{tmp_path}/per-batch.db")
    expected = _rows(per_batch, _build(per_batch, streams, EventCountsProjection, 300, defer=False))
    engine = make_engine(f"sqlite:///{tmp_path}/deferred.db")
    projection = EventCountsProjection()
    assert _deferring(engine, [projection]) == [projection]
    projection.deferring = True
    runner = projection_runner(None, engine, projection, batch=300)  # type: ignore[arg-type]
    runner.create_tables()
    for context in projection.contexts:
        for i, events in enumerate(_batches(streams.get(context.stream, []), 300)):
            if i % 3 == 1:  # applied in a transaction that rolls back, then by the runner
                with engine.connect() as conn, conn.begin() as tx:
                    projection.apply_batch(conn, events)
                    tx.rollback()
            runner.apply_batch(context.stream, events)
            if i % 5 == 2:  # and once more after it committed (a redelivery)
                with engine.connect() as conn, conn.begin():
                    projection.apply_batch(conn, events[len(events) // 2 :])
    _derive(engine, [projection])
    assert _rows(engine, projection) == expected


def test_a_deferred_build_writes_nothing_of_its_own_per_batch(
    streams: dict[str, list[StoredEvent]], tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/deferred.db")
    projection = _build(engine, streams, EventCountsProjection, 500, defer=True)
    with engine.connect() as conn:
        for t in TABLES:
            assert conn.execute(text(f'SELECT count(*) FROM "{projection.key}_{t}"')).scalar() == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_nodes_of_many_cells_summed_at_once_equal_the_nodes_of_each(seed: int) -> None:
    import random
    from collections import Counter

    from gateway.projections.event_counts import ORIGIN, SIZE, nodes, summed_nodes

    rng = random.Random(seed)
    weeks = [ORIGIN - 5, ORIGIN, ORIGIN + 1, ORIGIN + SIZE, ORIGIN + SIZE + 9, -1, 0, 1, 2_900]
    weeks += [rng.randrange(ORIGIN - 10, ORIGIN + SIZE + 10) for _ in range(40)]
    cells: Counter[tuple[int, int]] = Counter()
    for _ in range(600):
        cells[(rng.choice(weeks), rng.choice(weeks))] += rng.randrange(1, 4)
    got = summed_nodes(cells)
    assert len(got) == len({(v, k) for v, k, _ in got})
    assert {(v, k): n for v, k, n in got} == dict(nodes(cells))
