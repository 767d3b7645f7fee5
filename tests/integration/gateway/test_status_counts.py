"""Contracts counted by status at a past horizon from their versions' stored corners (asof12)
equal the versions counted at that horizon: on generated histories with backdated facts
(refolds close and insert versions), random batch cuts, horizons on and beside the cells'
edges and the versions' own instants, known now and at known instants.

Real SQLite: the versioned tables' bulk path (`eventstore.versioned._Writes`) as a rebuild
and the live runner write it, and the gateway's own count statement."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, create_engine, func, select

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from contracts_schema.registry.state import ContractStatus
from eventstore.bitemporal_sql import at, micros, versioned_table
from eventstore.sql import make_engine
from eventstore.timeline import Changes, Image, Recorded, Timeline
from eventstore.versioned import _Writes
from gateway.projections import ContractsProjection
from gateway.projections.event_counts import BUCKET
from gateway.projections.status_counts import StatusCorners, horizon_parameters
from gateway.readmodels import KNOWN_NOW, ReadModels
from tests.unit.eventstore.test_timeline import Bump, State, evolve

UNIT = BUCKET // 3  # an event's valid and known steps: a few per cell, edges crossed
STATUSES = ("0", "1", "2")


def image(state: State) -> Image:
    """The counters, each in a "status" that changes with its value."""
    return {
        ("counters", (name,)): {"name": name, "value": value, "status": str(value % 3)}
        for name, value in state.items()
    }


batches = st.lists(
    st.lists(
        st.tuples(st.sampled_from("abcd"), st.integers(1, 2), st.integers(-3, 24)),
        min_size=1,
        max_size=8,
    ),
    min_size=1,
    max_size=6,
)


def instants(values: set[int]) -> list[int]:
    """The instants, a microsecond either side, and the edges of their cells."""
    out = set(values) | {v - 1 for v in values} | {v + 1 for v in values}
    out |= {(v // BUCKET) * BUCKET for v in values} | {(v // BUCKET) * BUCKET - 1 for v in values}
    return sorted(out)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches,
    st.integers(1, 3),
    st.sampled_from([("0",), ("1", "2"), STATUSES]),
    st.integers(0, 20),
)
def test_the_corners_count_the_versions_at_every_horizon(
    history: list[list[tuple[str, int, int]]],
    per_instant: int,
    asked: tuple[str, ...],
    cut: int,
) -> None:
    """Backdated events (valid before what is known) re-derive versions; several events
    share one transaction time; batches cut anywhere (an insert closed in its own batch)."""
    metadata = MetaData()
    table = versioned_table(
        "counters",
        metadata,
        Column("name", String(8), nullable=False),
        Column("value", Integer, nullable=False),
        Column("status", String(20), nullable=False),
        key=["name"],
    )
    corners = StatusCorners("counters_status", metadata)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    timeline: Timeline[State, Bump] = Timeline({}, evolve, image)
    index, valid_seen, known_seen = 0, {0}, {0}
    with engine.begin() as conn:
        for batch in history:
            writes = _Writes({"counters": table}, {"counters": "status"})
            for counter, by, valid in batch:
                index += 1
                known = ((index + per_instant - 1) // per_instant) * UNIT
                changes = Changes()
                timeline.record(Recorded(Bump(counter, by), valid * UNIT, known, index), changes)
                writes.stage(changes)
                valid_seen.add(valid * UNIT)
                known_seen.add(known)
            writes.flush(conn)
            for name, found in writes.corners.items():
                assert name == "counters"
                for statement in corners.statements(conn.dialect, found):
                    conn.exec_driver_sql(*statement)
        for known_now in (True, False):
            stored = corners.count(known_now)
            for v in instants(valid_seen)[cut % 3 :: 3]:
                for k in [KNOWN_NOW] if known_now else instants(known_seen)[cut % 7 :: 7]:
                    rows = conn.execute(
                        select(func.count())
                        .select_from(table)
                        .where(at(table, v, k), table.c.status.in_(asked))
                    ).scalar_one()
                    parameters = horizon_parameters(v, None if known_now else k)
                    got = conn.execute(
                        stored, {**parameters, "filter_statuses": list(asked)}
                    ).scalar_one()
                    assert got == rows, (v, k, asked)


STREAMS = stored_events(generate(seed=23, events=800))
_BUILT: dict[str, Any] = {}


def _read_models(directory: Any) -> ReadModels:
    """The generated history's read models, built once (batch cuts are
    test_rebuild_equals_live's: every batching writes the same corners)."""
    if "read" not in _BUILT:
        engine = make_engine(f"sqlite:///{directory / 'views.db'}")
        build_read_models(engine, STREAMS, batch=500)
        _BUILT["read"] = ReadModels(engine)
    return _BUILT["read"]  # type: ignore[no-any-return]


def _instants() -> tuple[list[int], list[int]]:
    envelopes = [e.envelope for s in STREAMS.values() for e in s]
    return (
        instants({micros(e.occurred_at) for e in envelopes}),
        instants({micros(e.recorded_at) for e in envelopes}),
    )


VALID, KNOWN = _instants()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid=st.sampled_from(VALID),
    known=st.one_of(st.just(KNOWN_NOW), st.sampled_from(KNOWN)),
    statuses=st.lists(st.sampled_from([s.value for s in ContractStatus]), min_size=1),
)
def test_the_stored_status_count_is_the_gateway_count_on_a_generated_history(
    tmp_path_factory: Any, valid: int, known: int, statuses: list[str]
) -> None:
    """The bench's generator (amendments, ends, backdated facts) through the read models'
    batch path; the gateway's statement at a past horizon against the rows it would count."""
    read = _read_models(tmp_path_factory.getbasetemp())
    bound = read.at(valid, known)
    found = bound.status_count()
    assert found is not None
    contracts = bound.contracts.contracts

    async def check() -> tuple[int, int]:
        rows = await bound.scalar(
            select(func.count()).select_from(contracts).where(contracts.c.status.in_(statuses))
        )
        stored = await bound.scalar(found[0], {**found[1], "filter_statuses": statuses})
        return int(rows), int(stored)

    rows, stored = asyncio.run(check())
    assert stored == rows, (valid, known, statuses)


def test_the_generated_history_has_contracts_to_count_in_the_past(tmp_path_factory: Any) -> None:
    """The property above is asked of a history that has something to count."""
    read = _read_models(tmp_path_factory.getbasetemp())
    middle = read.at(VALID[len(VALID) // 2], KNOWN[len(KNOWN) // 2])
    found = middle.status_count()
    assert found is not None

    async def count(statuses: list[str]) -> int:
        return int(await middle.scalar(found[0], {**found[1], "filter_statuses": statuses}))

    assert asyncio.run(count([s.value for s in ContractStatus])) > 10
    assert asyncio.run(count([ContractStatus.ACTIVE.value])) > 0


def test_the_present_counts_the_rows_itself() -> None:
    """The present's count is the horizon index's, unchanged (None: no stored count)."""
    engine = make_engine("sqlite://")
    try:
        assert ReadModels(engine).at_now().status_count() is None
        assert ReadModels(engine).status_count() is None
        assert ContractsProjection().counted()["contracts"] == "status"
    finally:
        engine.dispose()


def test_an_older_contracts_version_still_serving_counts_its_rows(tmp_path_factory: Any) -> None:
    """While contracts v5 rebuilds beside a live v4 (deployed before the corners), a past
    status count is the rows' (v4 has no corner tables), never a statement naming tables
    that v4 never created (review15)."""
    read = _read_models(tmp_path_factory.getbasetemp())
    rebuilding = SimpleNamespace(projection=ContractsProjection(), live=False, live_version=4)
    serving = ReadModels(read.engine, [rebuilding])  # type: ignore[list-item]
    middle = serving.at(VALID[len(VALID) // 2], KNOWN[len(KNOWN) // 2])
    assert middle.contracts.version == 4
    assert middle.status_count() is None
    assert read.at(VALID[0], KNOWN[0]).status_count() is not None  # the live v5 uses them
