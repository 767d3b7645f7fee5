"""The SQL writer of bitemporal versions: batches of row changes, stored in SQLite, read back
with the `at` predicate, equal the fold of what was known at every horizon."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, create_engine, func, select, text

from eventstore.bitemporal_sql import at, versioned_table
from eventstore.timeline import Changes, Recorded, Timeline
from eventstore.versioned import _Writes
from tests.unit.eventstore.test_timeline import Bump, State, evolve, expected, image

batches = st.lists(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 3), st.integers(0, 20)),
        min_size=1,
        max_size=6,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(batches, st.integers(1, 3))
def test_batched_writes_read_back_at_every_horizon_as_the_fold(
    history: list[list[tuple[str, int, int]]], per_instant: int
) -> None:
    """Batches as the runner cuts them; `per_instant` events share one transaction time."""
    metadata = MetaData()
    table = versioned_table(
        "counters",
        metadata,
        Column("name", String(8), nullable=False),
        Column("value", Integer, nullable=False),
        key=["name"],
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    timeline: Timeline[State, Bump] = Timeline({}, evolve, image)
    events: list[Recorded[Bump]] = []
    index = 0
    with engine.begin() as conn:
        for batch in history:
            writes = _Writes({"counters": table})
            for counter, by, valid in batch:
                index += 1
                known = (index + per_instant - 1) // per_instant
                event = Recorded(Bump(counter, by), valid * 10, known * 10, index)
                changes = Changes()
                timeline.record(event, changes)
                writes.stage(changes)
                events.append(event)
            writes.flush(conn)
        for k in range(0, (index + 1) * 10 + 1, 5):
            for v in range(-5, 215, 10):
                rows = conn.execute(
                    select(table.c.name, table.c.value).where(at(table, v, k))
                ).all()
                got = {("counters", (n,)): {"name": n, "value": val} for n, val in rows}
                assert len(rows) == len(got), f"two versions of one row at ({v}, {k})"
                assert got == expected(events, v, k), (v, k)
        never_visible = conn.execute(
            select(table.c.name).where(table.c.known_from >= table.c.known_to)
        ).all()
        assert never_visible == [], "a version known for no instant was kept"


def test_a_count_filtered_by_an_indexed_column_at_a_horizon_reads_the_index_alone() -> None:
    """A column declared `index=True` is indexed with both intervals: counting the versions of
    one value at a past horizon never reads the table's rows (SQLite's plan says so)."""
    metadata = MetaData()
    table = versioned_table(
        "tenders",
        metadata,
        Column("tender_id", String(8), nullable=False),
        Column("phase", String(8), nullable=False, index=True),
        Column("title", String(80), nullable=False),
        key=["tender_id"],
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    count = (
        select(func.count()).select_from(table).where(table.c.phase == "published", at(table, 5, 7))
    )
    with engine.connect() as conn:
        plan = conn.execute(
            text("EXPLAIN QUERY PLAN " + str(count.compile(compile_kwargs={"literal_binds": True})))
        ).all()
    assert [row[-1] for row in plan] == [
        "SEARCH tenders USING COVERING INDEX ix_tenders_phase (phase=? AND known_to>?)"
    ]
