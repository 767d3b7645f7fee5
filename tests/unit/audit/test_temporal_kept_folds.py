"""The audit's history read model folds an event onto the fold it kept for its aggregate
instead of re-reading the aggregate's events: the tables are the same either way.

A generated history (backdated facts, several facts a day, every aggregate type) is applied
to two SQLite databases: one with the kept folds, one made to re-read every aggregate.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, select

from audit import temporal
from audit.temporal import TemporalProjection
from bench.direct import stored_events
from bench.history.generator import generate
from eventstore.sql import make_engine
from eventstore.store import StoredEvent


def _apply(engine: Engine, projection: TemporalProjection, events: list[StoredEvent]) -> None:
    with engine.begin() as conn:
        for event in events:
            projection.apply(conn, event)


def _tables(engine: Engine, projection: TemporalProjection) -> Iterator[list[tuple[object, ...]]]:
    with engine.connect() as conn:
        for table in (projection.events, projection.versions):
            yield sorted(tuple(r) for r in conn.execute(select(table)))


def _build(path: Path) -> tuple[Engine, TemporalProjection]:
    engine = make_engine(f"sqlite:///{path}")
    projection = TemporalProjection()
    metadata = MetaData()
    projection.define(metadata)
    metadata.create_all(engine)
    return engine, projection


# ~13 s on two free cores; the re-reading side is quadratic in an aggregate's length, and
# beside other busy processes it took 72-115 s (over pytest's default 120 s with a worker).
@pytest.mark.timeout(600)
def test_kept_folds_write_the_same_versions_as_re_reading_every_aggregate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    streams = stored_events(generate(seed=7, events=2_000))
    read = {c.stream for c in TemporalProjection.contexts}
    events = [e for stream, found in streams.items() if stream in read for e in found]
    aggregates = {(e.envelope.aggregate_type, e.envelope.aggregate_id) for e in events}
    kept_engine, kept = _build(tmp_path / "kept.db")
    reread_engine, reread = _build(tmp_path / "reread.db")
    re_reads = 0
    reader_for = temporal.reader_for  # taken only where the aggregate's events are re-read

    def counted(*args: Any) -> Any:
        nonlocal re_reads
        re_reads += 1
        return reader_for(*args)

    monkeypatch.setattr(temporal, "reader_for", counted)
    _apply(kept_engine, kept, events)
    # Each aggregate's first event, and each backdated one, re-read the aggregate.
    assert re_reads > len(aggregates)
    assert len(events) - re_reads > len(events) / 5  # ... the others folded onto kept folds
    monkeypatch.setattr(temporal, "FOLDED_LIMIT", 0)  # every aggregate forgotten at once
    _apply(reread_engine, reread, events)

    assert len(kept._folded) > 50  # the kept path was taken ...
    assert not reread._folded  # ... and the other one re-read every aggregate
    kept_tables, reread_tables = (
        list(_tables(kept_engine, kept)),
        list(_tables(reread_engine, reread)),
    )
    assert kept_tables == reread_tables
    assert len(kept_tables[1]) > len(events) / 4  # versions were written, some closed
    assert any(row[4] is not None for row in kept_tables[1])
