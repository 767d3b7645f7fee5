"""A status count with blocks (tenders v7's phases, asof23) derived at the end of a rebuild
(rebuild23's `derived`) fills its blocks too: before the merge of the two, `derived` wrote
points, cells and weeks only, and a count as known now read empty blocks (a count of zero
for every week before the horizon's block)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, create_engine, text

from eventstore.bulk import execute
from eventstore.timeline import FOREVER
from gateway.projections.status_counts import BLOCK, BUCKET, StatusCorners

WEEK = BUCKET
instants = st.integers(min_value=-200 * WEEK, max_value=400 * WEEK)
versions = st.lists(
    st.tuples(st.sampled_from(["open", "closed"]), instants, instants, st.booleans()),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(versions)
def test_derived_blocks_are_the_derived_weeks_summed_per_block(
    rows: list[tuple[str, int, int, bool]],
) -> None:
    engine = create_engine("sqlite://")
    metadata = MetaData()
    table = Table(
        "v",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("status", String(20)),
        Column("valid_from", BigInteger),
        Column("valid_to", BigInteger),
        Column("known_from", BigInteger),
        Column("known_to", BigInteger),
    )
    corners = StatusCorners("c", metadata, blocks=True)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for status, a, b, closed in rows:
            start, end = min(a, b), max(a, b) + 1
            conn.execute(
                table.insert().values(
                    status=status,
                    valid_from=start,
                    valid_to=end,
                    known_from=0,
                    known_to=end if closed else FOREVER,
                )
            )
        execute(conn, corners.derived(engine.dialect, table))
        weeks = conn.execute(text("SELECT status, valid_bucket, n FROM c_weeks")).fetchall()
        blocks = conn.execute(text("SELECT status, block, n FROM c_blocks")).fetchall()
    expected: Counter[tuple[str, int]] = Counter()
    for status, week, n in weeks:
        expected[(status, week // BLOCK)] += n
    assert weeks, rows  # every example has versions: the weeks are not empty
    assert {(s, b): n for s, b, n in blocks if n} == {k: n for k, n in expected.items() if n}
