"""rebuild22: a rebuild from nothing (a split rebuild's group, `eventstore.split_rebuild`)
leaves enrolment's programme spans, pieces and running totals (and the municipalities'
participation spans and total) out of every batch and derives them once at its end from the
finished rows. The rows must be exactly those the batches would have kept: every table of
the read model compared with a build that recomputes them per batch, at several batch sizes
(the generated history has backdated facts, withdrawals, mergers and renames)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, func, select, text

from bench.direct import stored_events
from bench.history.generator import generate
from bootstrap.parts import projection_runner
from eventstore.projection import checkpoints
from eventstore.records import StoredEvent
from eventstore.split_rebuild import _deferring, _derive
from eventstore.sql import make_engine
from gateway.projections import ALL
from gateway.projections.enrolment import EnrolmentProjection

DERIVED = (
    "programme_spans",
    "programme_pieces",
    "programme_totals",
    "programme_total_keys",
    "participation_spans",
    "participation_totals",
)


@pytest.fixture(scope="module")
def streams() -> dict[str, list[StoredEvent]]:
    return stored_events(generate(seed=23, events=6_000))


def _batches(events: Sequence[StoredEvent], size: int) -> Iterator[list[StoredEvent]]:
    for first in range(0, len(events), size):
        yield list(events[first : first + size])


def _build(
    engine: Engine, streams: dict[str, list[StoredEvent]], batch: int, *, defer: bool
) -> EnrolmentProjection:
    projection = EnrolmentProjection()
    if defer:
        assert _deferring(engine, [projection]) == [projection]  # a fresh database
        projection.deferring = True
    runner = projection_runner(None, engine, projection, batch=batch)  # type: ignore[arg-type]
    runner.create_tables()
    for context in projection.contexts:
        for events in _batches(streams.get(context.stream, []), batch):
            runner.apply_batch(context.stream, events)
    return projection


def _rows(engine: Engine, projection: EnrolmentProjection) -> dict[str, list[tuple[object, ...]]]:
    metadata = MetaData()
    projection.define(metadata)
    with engine.connect() as conn:
        return {
            t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
            for t in metadata.sorted_tables
        }


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM "enrolment_v5_{table}"')).scalar_one())


@pytest.mark.parametrize("batch", [500, 37])
def test_derived_once_at_the_end_equals_derived_per_batch(
    streams: dict[str, list[StoredEvent]], tmp_path: Path, batch: int
) -> None:
    per_batch = make_engine(f"sqlite:///{tmp_path}/per-batch.db")
    deferred = make_engine(f"sqlite:///{tmp_path}/deferred.db")
    expected = _rows(per_batch, _build(per_batch, streams, batch, defer=False))
    projection = _build(deferred, streams, batch, defer=True)
    # Left out of every batch: nothing derived yet, the versions all written.
    assert {t: _count(deferred, t) for t in DERIVED} == dict.fromkeys(DERIVED, 0)
    assert _count(deferred, "participants") == _count(per_batch, "participants") > 0
    _derive(deferred, [projection])
    assert projection.deferring is False
    got = _rows(deferred, projection)
    assert set(got) == set(expected)
    for name in expected:
        assert got[name] == expected[name], name
    # Not a comparison of empty tables.
    assert all(expected[f"enrolment_v5_{t}"] for t in DERIVED), {
        t: len(expected[f"enrolment_v5_{t}"]) for t in DERIVED
    }
    per_batch.dispose()
    deferred.dispose()


def test_only_a_database_without_the_read_models_position_defers(tmp_path: Path) -> None:
    """A group's fresh SQLite file defers; one where the read model has a checkpoint (it
    applied batches: its derived rows are kept per batch) does not, nor a read model that
    derives nothing."""
    engine = make_engine(f"sqlite:///{tmp_path}/group.db")
    made = [kind() for kind in ALL]
    enrolment = next(p for p in made if isinstance(p, EnrolmentProjection))
    assert enrolment in _deferring(engine, made)  # with the event log and contracts (rebuild23)
    runner = projection_runner(None, engine, EnrolmentProjection(), batch=10)  # type: ignore[arg-type]
    runner.create_tables()
    assert _deferring(engine, [EnrolmentProjection()]) != []  # tables, no position yet
    with engine.begin() as conn:
        conn.execute(
            checkpoints.insert().values(
                projection=enrolment.key, stream="ENROLMENT", seq=1, updated_at=func.now()
            )
        )
    assert _deferring(engine, [EnrolmentProjection()]) == []
    engine.dispose()
