"""On PostgreSQL the programme spans' recompute finds each dirty pair's participations by
the participants' whole key (tender and organisation), while a rebuild writes.

A rebuild's tables have no statistics and PostgreSQL reorders joins as it likes: with the
participants joined in the FROM list it looked them up by the organisation alone, a column
the key index holds second, so every lookup read the whole index, and kept that plan as the
table grew (pg15: one batch's recompute 0.3 -> 7.7 s at 10k events; the two-process
rebuild's enrolment group 9.5 s -> 31 s). Here the statement's plan, with the read indexes
dropped as a rebuild from nothing has them, searches the key index by both columns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import MetaData

from eventstore.rebuild_indexes import drop, read_indexes
from eventstore.sql import make_engine
from gateway.projections import EnrolmentProjection


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_the_recompute_searches_participants_by_their_whole_key(postgres_cluster: Any) -> None:
    url = postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")
    projection = EnrolmentProjection()
    metadata = MetaData()
    projection.define(metadata)
    engine = make_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            drop(conn, read_indexes(metadata))  # as a rebuild from nothing writes
            spans = projection.programme_spans
            statements = spans.statements(
                conn.dialect, ["T-1"], projection.tender_programmes, projection.participants
            )
            compute = next(sql for sql, _ in statements if "island" in sql)
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                cur.execute(f"EXPLAIN (FORMAT JSON) {compute}")
                (row,) = cur.fetchall()
        plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
        table = projection.participants.name
        lookups = [n for n in _nodes(plan[0]["Plan"]) if n.get("Relation Name") == table]
        assert lookups, plan
        for node in lookups:
            cond = node.get("Index Cond", "")
            assert "tender_id" in cond, node
            assert "organisation_code" in cond, node
    finally:
        engine.dispose()
