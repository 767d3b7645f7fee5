"""rebuild23: a rebuild from nothing (a split rebuild's group, `eventstore.split_rebuild`)
leaves the event log's per-code counts and the contracts' counted corners (the status and
supplier sums) out of every batch and derives them once at its end from the finished rows
(links; stored versions). The rows must be exactly those the batches would have kept: every
table of each read model compared with a build that adds them up per batch, at several batch
sizes (the generated history has backdated facts, amendments, transfers and cancellations:
versions closed and re-derived)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, select, text

from bench.direct import stored_events
from bench.history.generator import generate
from bootstrap.parts import projection_runner
from eventstore.bulk import execute
from eventstore.projection import BatchProjection
from eventstore.records import StoredEvent
from eventstore.split_rebuild import _deferring, _derive
from eventstore.sql import make_engine
from eventstore.timeline import Changes, Close, Version
from eventstore.versioned import _Writes
from gateway.projections import ALL
from gateway.projections.contracts import ContractsProjection
from gateway.projections.count_sql import floor_div
from gateway.projections.enrolment import EnrolmentProjection
from gateway.projections.event_counts import EventCountsProjection
from gateway.projections.event_log import EventLogProjection

# The tables each read model leaves out of its batches while deferring.
DERIVED = {
    EventLogProjection: ("org_weeks", "org_blocks"),
    ContractsProjection: (
        "status_points",
        "status_cells",
        "status_weeks",
        "supplier_points",
        "supplier_tree",
    ),
}


@pytest.fixture(scope="module")
def streams() -> dict[str, list[StoredEvent]]:
    return stored_events(generate(seed=23, events=6_000))


def _batches(events: Sequence[StoredEvent], size: int) -> Iterator[list[StoredEvent]]:
    for first in range(0, len(events), size):
        yield list(events[first : first + size])


def _build(
    engine: Engine,
    streams: dict[str, list[StoredEvent]],
    kind: type[BatchProjection],
    batch: int,
    *,
    defer: bool,
) -> BatchProjection:
    projection = kind()
    if defer:
        assert _deferring(engine, [projection]) == [projection]  # a fresh database
        projection.deferring = True
    runner = projection_runner(None, engine, projection, batch=batch)  # type: ignore[arg-type]
    runner.create_tables()
    for context in projection.contexts:
        for events in _batches(streams.get(context.stream, []), batch):
            runner.apply_batch(context.stream, events)
    assert runner.parked_count == 0
    return projection


def _rows(engine: Engine, projection: BatchProjection) -> dict[str, list[tuple[object, ...]]]:
    metadata = MetaData()
    projection.define(metadata)
    with engine.connect() as conn:
        return {
            t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
            for t in metadata.sorted_tables
        }


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())


@pytest.mark.parametrize("batch", [500, 37])
@pytest.mark.parametrize("kind", list(DERIVED), ids=lambda k: k.__name__)
def test_counted_once_at_the_end_equals_counted_per_batch(
    streams: dict[str, list[StoredEvent]],
    tmp_path: Path,
    kind: type[BatchProjection],
    batch: int,
) -> None:
    per_batch = make_engine(f"sqlite:///{tmp_path}/per-batch.db")
    deferred = make_engine(f"sqlite:///{tmp_path}/deferred.db")
    expected = _rows(per_batch, _build(per_batch, streams, kind, batch, defer=False))
    projection = _build(deferred, streams, kind, batch, defer=True)
    derived = [f"{projection.key}_{t}" for t in DERIVED[kind]]
    # Left out of every batch: nothing counted yet, every other table written.
    assert {t: _count(deferred, t) for t in derived} == dict.fromkeys(derived, 0)
    for name, rows in expected.items():
        if name not in derived:
            assert _count(deferred, name) == len(rows), name
    _derive(deferred, [projection])
    assert projection.deferring is False
    got = _rows(deferred, projection)
    assert set(got) == set(expected)
    for name in expected:
        assert got[name] == expected[name], name
    # Not a comparison of empty tables.
    assert all(expected[t] for t in derived), {t: len(expected[t]) for t in derived}
    per_batch.dispose()
    deferred.dispose()


def test_the_contracts_history_closes_versions() -> None:
    """The comparison above sees the contracts' closing corners (versions closed in the
    known axis, and ended in the valid axis), not only opening ones. Its supplier rows are
    never closed (a contract's suppliers do not change once signed): the random test below
    closes them."""
    engine = make_engine("sqlite://")
    _build(
        engine,
        stored_events(generate(seed=23, events=6_000)),
        ContractsProjection,
        500,
        defer=False,
    )
    key = ContractsProjection().key
    forever = 2**62
    with engine.connect() as conn:
        for table in ("contracts",):
            closed, ended = conn.execute(
                text(
                    f"SELECT sum(known_to <> {forever}), sum(valid_to <> {forever})"
                    f' FROM "{key}_{table}"'
                )
            ).one()
            assert closed > 0, table
            assert ended > 0, table
    engine.dispose()


def test_floor_division_in_sql_rounds_down_as_python_does() -> None:
    """The weeks of instants before 1970 (negative µs) as `bucket` numbers them."""
    conn = sqlite3.connect(":memory:")
    week = 7 * 86_400 * 1_000_000
    for value in (0, 1, -1, week - 1, week, -week, -week - 1, -week + 1, 10**15 + 3, -(10**15)):
        for divisor in (week, 64, 7):
            (got,) = conn.execute(f"SELECT {floor_div(str(value), divisor)}").fetchone()
            assert got == value // divisor, (value, divisor)
    conn.close()


def test_the_read_models_that_derive_at_the_end_on_a_fresh_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/group.db")
    made = [kind() for kind in ALL]
    chosen = {type(p) for p in _deferring(engine, made)}
    assert chosen == {
        EnrolmentProjection,
        EventLogProjection,
        ContractsProjection,
        EventCountsProjection,  # (rebuild24)
    }
    engine.dispose()


def _random_changes(seed: int, events: int) -> list[list[Changes]]:
    """Per command (known at its own instant, one or two events): contract and supplier
    versions inserted, closed (re-derived; by the command's second event a version its first
    inserted: known from and to one instant, never written) and ended in the valid axis;
    statuses and suppliers change, some instants before 1970. What timelines hand `_Writes`,
    with every kind of closing corner (the generated histories close no supplier row)."""
    rng = random.Random(seed)
    forever = 2**62
    open_: dict[tuple[str, tuple[str, ...], int], Version] = {}
    out: list[list[Changes]] = []
    for step in range(events):
        known = (step - events // 3) * 86_400_000_000 + rng.randrange(10**6)
        command: list[Changes] = []
        for _event in range(rng.choice([1, 1, 2])):
            changes = Changes()
            closed: set[tuple[str, tuple[str, ...], int]] = set()
            for _ in range(rng.randrange(1, 4)):
                older = sorted(
                    set(open_) - {v for v in open_ if open_[v] in changes.inserts}, key=repr
                )
                if older and rng.random() < 0.45:  # a version an earlier event inserted
                    slot = rng.choice(older)
                    version = open_.pop(slot)
                    closed.add(slot)
                    changes.closes.append(
                        Close(
                            version.key,
                            version.valid_from,
                            known,
                            version.known_from,
                            version.valid_to,
                            version.row,
                        )
                    )
                    continue
                contract = f"C{rng.randrange(12)}"
                valid = known - rng.randrange(-5, 400) * 86_400_000_000
                until = (
                    forever if rng.random() < 0.6 else valid + rng.randrange(1, 90) * 86_400_000_000
                )
                if rng.random() < 0.5:
                    key: tuple[str, ...] = (contract,)
                    row: dict[str, object] = {
                        "contract_id": contract,
                        "kind": "plain",
                        "lot_ids": [],
                        "contracting_authority": "GM0001",
                        "signed_on": date(2020, 1, 1),
                        "start_date": date(2020, 1, 1),
                        "end_date": date(2030, 1, 1),
                        "status": rng.choice(["active", "terminated", "expired"]),
                        "law_findings": [],
                        "signed_on_stated": True,
                        "start_stated": True,
                        "end_stated": True,
                    }
                    name = "contracts"
                else:
                    supplier = f"KVK{rng.randrange(6)}"
                    key = (contract, supplier)
                    row = {"contract_id": contract, "supplier_id": supplier, "lot_ids": []}
                    name = "suppliers"
                if (name, key, valid) in open_ or (name, key, valid) in closed:
                    continue  # one open version per key and valid start
                version = Version((name, key), row, valid, until, known)
                changes.inserts.append(version)
                open_[(name, key, valid)] = version
            command.append(changes)
        out.append(command)
    return out


def _write(engine: Engine, projection: ContractsProjection, batches: list[list[Changes]]) -> None:
    with engine.begin() as conn:
        for batch in batches:
            writes = _Writes(projection.versioned(), projection.counted())
            for changes in batch:
                writes.stage(changes)
            statements = writes.statements(conn.dialect)
            if writes.corners:
                statements += projection.corner_statements(conn.dialect, writes.corners)
            execute(conn, statements)


def _nonzero(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the counted tables without those whose sum is zero."""
    counted = {f"{ContractsProjection().key}_{t}" for t in DERIVED[ContractsProjection]}
    return {
        name: [r for r in table if name not in counted or r[-1] != 0]
        for name, table in rows.items()
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_kind_of_closing_corner_counted_at_the_end_as_per_batch(
    tmp_path: Path, seed: int
) -> None:
    """Counted at the end equals counted per batch: exactly with the whole history one
    batch; with batches of 1-60 commands equal but for rows whose sum came back to zero
    (a batch of the per-batch path adds a nonzero number to a key, a later batch takes it
    back: the key's row stays with n = 0, where the batches split the history; every count
    reads sums, so every answer is the same)."""
    commands = _random_changes(seed, 400)
    rng = random.Random(seed)
    uneven: list[list[Changes]] = []
    first = 0
    while first < len(commands):
        size = rng.choice([1, 3, 17, 60])
        uneven.append([c for command in commands[first : first + size] for c in command])
        first += size
    whole = [[c for batch in uneven for c in batch]]
    built = {}
    for batches in ("whole", "uneven"):
        for defer in (False, True):
            engine = make_engine(f"sqlite:///{tmp_path}/{batches}-{defer}.db")
            projection = ContractsProjection()
            metadata = MetaData()
            projection.define(metadata)
            metadata.create_all(engine)
            projection.deferring = defer
            _write(engine, projection, whole if batches == "whole" else uneven)
            if defer:
                _derive(engine, [projection])
            built[batches, defer] = _rows(engine, projection)
            engine.dispose()
    per_batch = built["whole", False]
    assert built["whole", True] == per_batch
    assert built["uneven", True] == built["whole", True]  # the derivation sees rows only
    assert _nonzero(built["uneven", False]) == _nonzero(per_batch)
    key = ContractsProjection().key
    assert all(per_batch[f"{key}_{t}"] for t in DERIVED[ContractsProjection])
    forever = 2**62
    for table in ("contracts", "contract_suppliers"):  # closed and valid-ended versions seen
        rows = per_batch[f"{key}_{table}"]
        assert any(r[-1] != forever for r in rows), table
        assert any(r[-3] != forever and r[-1] != forever for r in rows), table
