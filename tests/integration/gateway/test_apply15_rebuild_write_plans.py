"""The enrolment read model's batch statements (programme spans, pieces and totals) find
their rows by index while a rebuild writes, when its tables have no read indexes.

A rebuild from nothing drops every read index and builds them once caught up
(`eventstore.rebuild_indexes`): an index the batch's own statements need must be flagged
`WRITE_PATH` or the statement scans whole tables on every batch, a cost that grows with the
history (apply15: the spans by organisation, the tenders by programme and the batch's
corners were read indexes; the spans' recompute went from every tender's participants and
the pieces' cut from every municipality's spans). Here every statement's SQLite plan, with
the read indexes dropped, scans only the batch's scratch tables (the dirty pairs, the
corners), and never those once per row (a correlated subquery).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData

from eventstore.rebuild_indexes import drop, read_indexes
from eventstore.sql import make_engine
from gateway.projections import EnrolmentProjection


def _plans(directory: Path) -> dict[str, list[tuple[int, int, str]]]:
    projection = EnrolmentProjection()
    metadata = MetaData()
    projection.define(metadata)
    engine = make_engine(f"sqlite:///{directory / 'plans.db'}")
    metadata.create_all(engine)
    plans: dict[str, list[tuple[int, int, str]]] = {}
    with engine.begin() as conn:
        drop(conn, read_indexes(metadata))  # as a rebuild from nothing writes
        spans = projection.programme_spans
        before, after = projection.programme_counts.statements(
            conn.dialect, ["GM0001"], spans.dirty, spans.spans, projection.organisation_counted
        )
        # asof20: the municipalities' participation spans and total, as `prepare` runs them.
        kept, recomputed = projection.participation_counts.statements(
            conn.dialect, spans.dirty, projection.programme_counts.pieces
        )
        statements = spans.statements(
            conn.dialect,
            ["T-1"],
            projection.tender_programmes,
            projection.participants,
            marks=before,
            then=[*kept, *after, *recomputed],
        )
        raw = conn.connection.driver_connection
        assert raw is not None
        for sql, params in statements:
            rows = raw.execute(f"EXPLAIN QUERY PLAN {sql}", params[0]).fetchall()
            plans[sql] = [(r[0], r[1], r[3]) for r in rows]
    engine.dispose()
    return plans


# What a statement may scan: the batch's scratch tables (`d` is their alias throughout) and
# the statement's own intermediate results (its subqueries, by alias or number).
KEY = EnrolmentProjection().key
MAY_SCAN = {
    f"{KEY}_programme_spans_dirty",
    f"{KEY}_programme_delta",
    f"{KEY}_participation_before",
    f"{KEY}_participation_changed",
    f"{KEY}_participation_delta",
    "d",
    "a",
    "marked",
    "numbered",
    "gone",
    "new",
}


def test_the_batch_statements_scan_only_the_scratch_tables(tmp_path: Path) -> None:
    scans = [
        (detail, sql[:80])
        for sql, plan in _plans(tmp_path).items()
        for _id, _parent, detail in plan
        if detail.startswith("SCAN ")
        and (what := detail.split(" ")[1]) not in MAY_SCAN
        and not what.startswith("(subquery-")
    ]
    assert scans == []


def test_no_scratch_table_is_scanned_once_per_row(tmp_path: Path) -> None:
    per_row = []
    for sql, plan in _plans(tmp_path).items():
        correlated = {i for i, _parent, detail in plan if detail.startswith("CORRELATED")}
        for _id, parent, detail in plan:
            if parent in correlated and detail.startswith("SCAN "):
                per_row.append((detail, sql[:80]))
    assert per_row == []
