"""A rebuild in bulk writes the same read-model rows as the live path, event by event.

A rebuild hands each read model thousands of events per transaction (the catch-up read's
ranges): row changes meet in memory, versions opened and closed inside one batch are
written once, rows go to the driver as tuples. The live path applies one event per
transaction. Every gateway table, row for row, must come out the same either way, on
SQLite and PostgreSQL, over a generated history with backdated facts (refolds).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import Engine, MetaData, inspect, select

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from bench.loader import load_history
from bootstrap.parts import projection_runner
from contracts_schema.subjects import BoundedContext
from eventstore import projection
from eventstore.projection import checkpoints
from eventstore.rebuild_indexes import drop, read_indexes
from eventstore.sources import JetStreamSource
from eventstore.sql import make_engine
from gateway.projections import ALL, TendersProjection


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


def _each_read_model_apart(engine: Engine, streams: dict[str, list[Any]], batch: int) -> int:
    """Every gateway read model from `streams` through its runner's own batch path, as
    `bench.direct.build_read_models` does, but each read model in a thread of its own (own
    tables, own checkpoint rows, own connection); the events parked.

    Event by event on PostgreSQL the build is ~4,000 transactions of ~8 statements, each a
    round trip waiting for a backend to be scheduled: 251 s of wall for 15 s of CPU at load 36
    (suite15), one after the other.
    Side by side the six read models wait at once. On SQLite one after the other, as before:
    its writer turn would keep their writes one at a time anyway."""
    runners = [
        projection_runner(None, engine, kind(), batch=batch)  # type: ignore[arg-type]
        for kind in ALL
    ]
    for runner in runners:  # one after the other: the checkpoints table is shared
        runner.create_tables()

    def build(runner: Any) -> int:
        for context in runner.projection.contexts:
            events = streams.get(context.stream, [])
            for first in range(0, len(events), batch):
                runner.apply_batch(context.stream, list(events[first : first + batch]))
        return int(runner.parked_count)

    side_by_side = engine.dialect.name != "sqlite"
    with ThreadPoolExecutor(len(runners) if side_by_side else 1) as pool:
        return sum(pool.map(build, runners))


def test_a_rebuild_in_bulk_writes_the_same_rows_as_event_by_event(database_url: str) -> None:
    streams = stored_events(generate(seed=23, events=800))
    assert _backdated(streams) > 5  # the refold path is taken
    metadata = _tables()
    engine = make_engine(database_url)
    try:
        built: list[dict[str, list[tuple[Any, ...]]]] = []
        for batch in (2_000, 1, 37):  # a rebuild's ranges; the live path; uneven batches
            assert _each_read_model_apart(engine, streams, batch) == 0  # none parked
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


def _indexes(engine: Engine, metadata: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    """Per table, the indexes the database has (name, columns), constraints' own left out."""
    found = inspect(engine)
    return {
        name: sorted(
            (i["name"], tuple(i["column_names"]))
            for i in found.get_indexes(name)
            if not i.get("duplicates_constraint")
        )
        for name in metadata.tables
    }


def _declared(metadata: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted((i.name, tuple(c.name for c in i.columns)) for i in table.indexes)
        for name, table in metadata.tables.items()
    }


async def test_a_rebuild_through_nats_writes_the_direct_rows_and_ends_with_every_index(
    nats_client: NATS, database_url: str, tmp_path: Path
) -> None:
    """A runner starting from nothing far behind drops its read indexes while it catches up
    in bulk and builds them at the end: the same rows, the same schema as `create_all`."""
    history = generate(seed=29, events=2_500)
    loaded = await load_history(nats_client, history)
    metadata = _tables()
    reference = make_engine(f"sqlite:///{tmp_path}/reference.db")
    build_read_models(reference, stored_events(history), batch=500)
    engine = make_engine(database_url)
    runners = [projection_runner(nats_client, engine, kind(), batch=500) for kind in ALL]
    try:
        for runner in runners:
            await runner.start()
        for runner in runners:
            assert await runner.wait_until(loaded.last_seq, timeout=120)
            await runner.read_indexes_built()
        assert sum(r.caught_up_in_bulk for r in runners) > 2_500  # the bulk path did it
        assert sum(r.deferred_indexes for r in runners) > 20  # without its read indexes
    finally:
        for runner in runners:
            await runner.stop()
    built, expected = _rows(engine, metadata), _rows(reference, metadata)
    for name in expected:  # event ids are the store's own (the loader sealed them afresh)
        if name.endswith("_events"):
            built[name] = [r[:2] + r[3:] for r in built[name]]
            expected[name] = [r[:2] + r[3:] for r in expected[name]]
        assert sorted(built[name], key=repr) == sorted(expected[name], key=repr), name
    got = _indexes(engine, metadata)
    assert got == _declared(metadata)  # every index `create_all` makes, nothing else
    assert sum(len(i) for i in got.values()) > 30
    engine.dispose()
    reference.dispose()


def test_a_runner_creates_the_indexes_a_stopped_rebuild_left_out(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    runner = projection_runner(None, engine, ALL[2](), batch=10)  # type: ignore[arg-type]
    runner.create_tables()
    before = _indexes(engine, runner.metadata)
    with engine.begin() as conn:
        drop(conn, read_indexes(runner.metadata))
    assert _indexes(engine, runner.metadata) != before
    runner.create_tables()  # the next start
    assert _indexes(engine, runner.metadata) == before
    engine.dispose()


def test_a_runner_builds_again_a_read_index_whose_columns_changed(sqlite_url: str) -> None:
    """A read model stored by an earlier release, whose filter index held other columns under
    the same name, gets the index as now defined at the runner's next start."""
    engine = make_engine(sqlite_url)
    projection = TendersProjection()
    runner = projection_runner(None, engine, projection, batch=10)  # type: ignore[arg-type]
    runner.create_tables()
    declared = _indexes(engine, runner.metadata)
    table, name = f"{projection.key}_tenders", f"ix_{projection.key}_tenders_phase"
    horizon = ("known_to", "valid_to", "valid_from", "known_from")
    assert (name, ("phase", *horizon, "tender_id")) in declared[table]
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX {name}")
        conn.exec_driver_sql(f"CREATE INDEX {name} ON {table} (phase, title)")  # as it was
    assert _indexes(engine, runner.metadata) != declared
    runner.create_tables()  # the next start
    assert _indexes(engine, runner.metadata) == declared
    engine.dispose()


class HeadsUnavailableAtFirst(JetStreamSource):
    """The real stream source, whose first `failures` head lookups time out as a cluster
    electing its stream leaders under load answers."""

    def __init__(self, nc: NATS, failures: int) -> None:
        super().__init__(nc)
        self.failures = failures

    async def last_seq(self, context: BoundedContext) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise nats.errors.TimeoutError
        return await super().last_seq(context)


async def test_a_runner_starting_while_the_heads_cannot_be_read_waits_and_still_catches_up(
    nats_client: NATS, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient failure to read the streams' heads at start is waited out (the runner
    then defers its indexes as usual); one that outlasts the patience keeps the indexes.
    Neither stops the runner (a service used to die at start on one timeout)."""
    loaded = await load_history(nats_client, generate(seed=31, events=2_500))
    monkeypatch.setattr(projection, "HEADS_PAUSE", 0.01)
    for failures, patience, deferred in ((3, 15.0, True), (10_000, 0.1, False)):
        monkeypatch.setattr(projection, "HEADS_PATIENCE", patience)
        source = HeadsUnavailableAtFirst(nats_client, failures)
        engine = make_engine(database_url)
        runner = projection_runner(source, engine, ALL[0](), batch=500)
        try:
            await runner.start()
            assert await runner.wait_until(loaded.last_seq, timeout=120)
            await runner.read_indexes_built()
            assert (runner.deferred_indexes > 0) is deferred
        finally:
            await runner.stop()
            engine.dispose()


async def test_a_rebuild_in_two_processes_writes_the_rows_of_one(
    nats_client: NATS, database_url: str, tmp_path: Path
) -> None:
    """The product's rebuild (`audit projections rebuild`, the bench's rebuild figure): the
    read models in two groups, each built by a process of its own reading the streams; on
    SQLite each group into a file of its own, joined with ATTACH + INSERT ... SELECT. Every
    table, checkpoint and index as the direct build and `create_all` give."""
    from types import SimpleNamespace

    from bench.suites.replay import groups, rebuild_measured, rebuild_split

    assert len(groups()) == 2
    assert all(groups())
    history = generate(seed=37, events=2_500)
    loaded = await load_history(nats_client, history)
    metadata = _tables()
    reference = make_engine(f"sqlite:///{tmp_path}/reference.db")
    build_read_models(reference, stored_events(history), batch=500)
    ctx: Any = SimpleNamespace(service_nc=nats_client, loaded=loaded)
    # One rebuild in this process first, as the bench runs them: the group processes are
    # forked from a process whose catch-up threads ran (they must not wait on those).
    await rebuild_measured(ctx, f"sqlite:///{tmp_path}/one-process.db")
    split = await rebuild_split(ctx, database_url)
    assert split.parked == 0
    assert len(split.groups) == 2
    engine = make_engine(database_url)
    built, expected = _rows(engine, metadata), _rows(reference, metadata)
    assert sum(len(rows) for rows in built.values()) > 3_000
    for name in expected:  # event ids are the store's own (the loader sealed them afresh)
        if name.endswith("_events"):
            built[name] = [r[:2] + r[3:] for r in built[name]]
            expected[name] = [r[:2] + r[3:] for r in expected[name]]
        assert sorted(built[name], key=repr) == sorted(expected[name], key=repr), name
    assert _indexes(engine, metadata) == _declared(metadata)
    with engine.connect() as conn:
        stored = {
            (p, s): q
            for p, s, q in conn.execute(
                select(checkpoints.c.projection, checkpoints.c.stream, checkpoints.c.seq)
            )
        }
        live = conn.exec_driver_sql("SELECT name, live_version FROM projection_versions").all()
    for kind in ALL:  # every read model's checkpoints at the heads, and its version live
        p = kind()
        for context in p.contexts:
            head = loaded.last_seq.get(context.stream, 0)
            assert stored.get((p.key, context.stream), 0) == head, p.key
        assert (p.name, p.version) in set(live)
    engine.dispose()
    reference.dispose()
