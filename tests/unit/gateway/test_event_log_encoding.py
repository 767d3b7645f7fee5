"""The event log's SQLite texts for instants are what its column type would store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.dialects import sqlite

from gateway.projections.common import UtcDateTime, sqlite_utc_text


def test_instants_are_stored_as_the_column_type_stores_them() -> None:
    dialect = sqlite.dialect()
    store = UtcDateTime()._cached_bind_processor(dialect)  # what SQLAlchemy would send
    assert store is not None
    amsterdam = timezone(timedelta(hours=2))
    for moment in (
        datetime(2024, 3, 31, 1, 59, 59, 999_999, tzinfo=UTC),
        datetime(2024, 3, 31, 3, 0, tzinfo=amsterdam),  # another offset, no microseconds
        datetime(1999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))),  # next year
        datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
    ):
        assert sqlite_utc_text(moment) == store(moment)
