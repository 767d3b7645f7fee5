"""A rebuild in bulk writes the same read-model rows as the live path, event by event.

A rebuild hands each read model thousands of events per transaction (the catch-up read's
ranges): row changes meet in memory, versions opened and closed inside one batch are
written once, rows go to the driver as tuples. The live path applies one event per
transaction. Every gateway table, row for row, must come out the same either way, on
SQLite and PostgreSQL, over a generated history with backdated facts (refolds).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, MetaData, select

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from eventstore.projection import checkpoints
from eventstore.sql import make_engine
from gateway.projections import ALL


def _tables() -> MetaData:
    metadata = MetaData()
    for kind in ALL:
        kind().define(metadata)
    return metadata


def _rows(engine: Engine, metadata: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        rows = {
            name: sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
            for name, table in metadata.tables.items()
        }
        rows["checkpoints"] = sorted(
            tuple(r)
            for r in conn.execute(
                select(checkpoints.c.projection, checkpoints.c.stream, checkpoints.c.seq)
            )
        )
    return rows


def _backdated(streams: dict[str, list[Any]]) -> int:
    """Events that land before an event of their aggregate known earlier (a refold)."""
    last: dict[tuple[str, str], Any] = {}
    count = 0
    for events in streams.values():
        for event in events:
            e = event.envelope
            key = (e.aggregate_type, e.aggregate_id)
            if key in last and e.occurred_at < last[key]:
                count += 1
            last[key] = max(e.occurred_at, last.get(key, e.occurred_at))
    return count


def test_a_rebuild_in_bulk_writes_the_same_rows_as_event_by_event(database_url: str) -> None:
    streams = stored_events(generate(seed=23, events=800))
    assert _backdated(streams) > 5  # the refold path is taken
    metadata = _tables()
    engine = make_engine(database_url)
    try:
        built: list[dict[str, list[tuple[Any, ...]]]] = []
        for batch in (2_000, 1, 37):  # a rebuild's ranges; the live path; uneven batches
            result = build_read_models(engine, streams, batch=batch)
            assert result.parked == 0
            built.append(_rows(engine, metadata))
            with engine.begin() as conn:
                metadata.drop_all(conn)
                conn.execute(checkpoints.delete())
        bulk, live, uneven = built
        assert sum(len(rows) for rows in bulk.values()) > 3_000
        for name in bulk:
            assert bulk[name] == live[name], name
            assert uneven[name] == live[name], name
    finally:
        engine.dispose()
