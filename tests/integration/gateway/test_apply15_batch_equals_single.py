"""The enrolment read model written a rebuild's way equals it written one event at a time.

A rebuild hands the read model 2,000-event batches with its read indexes dropped: each
batch's participants, spans, pieces and totals are recomputed once for every tender and
municipality it touched, many events of one window, one tender and one municipality folded
together (several enrolments of one window, backdated ones that refold it, a municipality's
late registration and its merger, recorded ahead of or after its day). One event per batch,
read indexes in place, is the live path's finest grain. Every table of the read model,
row for row, must come out the same (the spans' and totals' statements run on other plans
without the read indexes: apply15 forced their join order). History: test_programme_counts'
(the bench generator's, with registrations and mergers recorded among it). Real SQLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, select

from bootstrap.parts import projection_runner
from eventstore.rebuild_indexes import drop, ensure, read_indexes
from eventstore.sql import make_engine
from eventstore.store import StoredEvent
from gateway.projections import EnrolmentProjection
from tests.integration.gateway.test_programme_counts import STREAMS


def _build(path: Path, batch: int, *, rebuild: bool) -> tuple[Engine, MetaData]:
    engine = make_engine(f"sqlite:///{path}")
    projection = EnrolmentProjection()
    runner = projection_runner(None, engine, projection, batch=batch)  # type: ignore[arg-type]
    runner.create_tables()
    if rebuild:
        with engine.begin() as conn:
            drop(conn, read_indexes(runner.metadata))
    for context in projection.contexts:
        events: list[StoredEvent] = STREAMS.get(context.stream, [])
        for first in range(0, len(events), batch):
            runner.apply_batch(context.stream, events[first : first + batch])
    assert runner.parked_count == 0
    if rebuild:
        with engine.begin() as conn:
            ensure(conn, runner.metadata)
    return engine, runner.metadata


def _rows(engine: Engine, metadata: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            name: sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
            for name, table in metadata.tables.items()
            if name.startswith("enrolment_")
        }


def test_a_rebuilds_batches_write_what_one_event_at_a_time_writes(tmp_path: Path) -> None:
    bulk, metadata = _build(tmp_path / "bulk.db", 2_000, rebuild=True)
    single, _ = _build(tmp_path / "single.db", 1, rebuild=False)
    built, expected = _rows(bulk, metadata), _rows(single, metadata)
    bulk.dispose()
    single.dispose()
    assert set(built) == set(expected)
    # Not vacuous: the history has spans, pieces and totals that change along it.
    for name in ("programme_spans", "programme_pieces", "programme_totals"):
        assert len(expected[f"{EnrolmentProjection().key}_{name}"]) > 20, name
    for name in expected:
        assert built[name] == expected[name], name
