"""A bulk plan's insert stores what `conn.execute(table.insert(), rows)` stores, column types
included (the rows travel as tuples, each processed column converted a whole column at a time)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    select,
)

from eventstore import bulk
from eventstore.sql import make_engine
from gateway.projections.common import UtcDateTime


def test_a_bulk_insert_stores_the_same_rows_as_sqlalchemy_insert() -> None:
    metadata = MetaData()
    tables = [
        Table(
            name,
            metadata,
            Column("id", Integer, primary_key=True),
            Column("name", String(20)),
            Column("on", Date),
            Column("at", UtcDateTime),
            Column("value", Numeric(18, 2)),
            Column("flag", Boolean),
            Column("doc", JSON),
        )
        for name in ("ours", "theirs")
    ]
    rows = [
        {
            "id": 1,
            "name": "a",
            "on": date(2020, 1, 2),
            "at": datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
            "value": Decimal("12.50"),
            "flag": True,
            "doc": {"codes": ["GM0363"], "n": 1},
        },
        {"id": 2, "name": None, "on": None, "at": None, "value": None, "flag": False, "doc": []},
    ]
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        metadata.create_all(conn)
        ours_plan = bulk.plan(conn.dialect, tables[0])
        ours_plan.insert(conn, [tuple(row[c] for c in ours_plan.columns) for row in rows])
        conn.execute(tables[1].insert(), rows)
        ours_plan.insert(conn, [])  # nothing to do
        ours = conn.execute(select(tables[0]).order_by("id")).all()
        theirs = conn.execute(select(tables[1]).order_by("id")).all()
    assert ours == theirs
    assert ours[0].doc == {"codes": ["GM0363"], "n": 1}


def test_repeated_values_are_stored_as_sqlalchemy_stores_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dates, flags and amounts are converted once per distinct value (a memo per column,
    emptied when large): what is stored is still what SQLAlchemy stores for each row."""
    monkeypatch.setattr(bulk, "_MEMO_MAX", 5)  # the memo is emptied and refilled along the way
    metadata = MetaData()
    tables = [
        Table(
            name,
            metadata,
            Column("id", Integer, primary_key=True),
            Column("on", Date),
            Column("value", Numeric(18, 2)),
            Column("flag", Boolean),
        )
        for name in ("memo_ours", "memo_theirs")
    ]
    days = [date(2020, 1, 1 + i % 9) for i in range(40)]
    values = [Decimal("1.50"), Decimal("1.5"), 2, Decimal("0.10"), None]
    rows = [
        {
            "id": i,
            "on": None if i % 7 == 0 else days[i],
            "value": values[i % len(values)],
            "flag": [True, False, 1, 0, None][i % 5],
        }
        for i in range(40)
    ]
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        metadata.create_all(conn)
        ours_plan = bulk.TablePlan(conn.dialect, tables[0])  # a fresh memo
        for first in (0, 14, 28):  # several batches through one plan
            chunk = rows[first : first + 14]
            ours_plan.insert(conn, [tuple(row[c] for c in ours_plan.columns) for row in chunk])
        conn.execute(tables[1].insert(), rows)
        ours = conn.execute(select(tables[0]).order_by("id")).all()
        theirs = conn.execute(select(tables[1]).order_by("id")).all()
    assert ours == theirs


def test_an_unhashable_value_in_a_memoised_column_meets_the_columns_own_processor() -> None:
    """A signalling NaN cannot be hashed: the column falls back to converting value by value,
    so the error is SQLAlchemy's own (it cannot store one either), not the memo's."""
    metadata = MetaData()
    table = Table("amounts", metadata, Column("id", Integer), Column("value", Numeric(18, 2)))
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        metadata.create_all(conn)
        process = bulk.TablePlan(conn.dialect, table).processors[0][1]
        assert process([Decimal("1.5"), None, Decimal("1.50")]) == (1.5, None, 1.5)
        with pytest.raises(ValueError, match="signaling NaN"):
            process([Decimal("1.5"), Decimal("sNaN")])
