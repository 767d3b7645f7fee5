"""`python -m bench.asof_count_steps DB:EVENTS ...`: the event log's stored count at the as-of
suite's horizons, VM steps of each event counts version (asof24e).

For each kept read model holding the event counts v2 (weeks) and v3 (days): the count
statement the gateway sends for `events(asOf)` (known now) and `events(asOf, knownAt)` at the
suite's middle day (known at its end), every SQLite virtual-machine step counted (a progress
handler at every step), the count itself and its strips' sizes (the events read in D's cell
and K's cell). Deterministic: the figure that says whether the count grows with the history.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import MetaData

from bench.suites.asof import _middle
from contracts_schema.calendar import end_of_dutch_day
from eventstore.bitemporal_sql import micros
from eventstore.sql import make_engine
from gateway.projections import EventCountsProjection
from gateway.readmodels import KNOWN_NOW, ReadModels


def _read(engine: Any, version: int) -> ReadModels:
    read = ReadModels(engine)
    projection = EventCountsProjection()
    projection.version = version  # type: ignore[misc]
    projection.define(MetaData())
    read._fallback[(EventCountsProjection, None)] = projection
    return read


def steps(url: str, version: int, valid: int, known: int) -> tuple[int, int]:
    """(the count, VM steps of its statement) at (valid, known) from counts `version`."""
    engine = make_engine(url)
    try:
        found = _read(engine, version).at(valid, known).event_count()
        assert found is not None
        statement, parameters = found
        with engine.connect() as conn:
            conn.execute(statement, parameters).scalar()  # warm: the pages, the statement
            raw: Any = conn.connection.driver_connection
            counted = [0]

            def tick() -> int:
                counted[0] += 1
                return 0

            raw.set_progress_handler(tick, 1)
            total = conn.execute(statement, parameters).scalar_one()
            raw.set_progress_handler(None, 0)
        return int(total), counted[0]
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("databases", nargs="+", help="DB:EVENTS")
    parser.add_argument("--versions", type=int, nargs="+", default=[2, 3])
    args = parser.parse_args()
    for spec in args.databases:
        path, _, events = spec.partition(":")
        url = f"sqlite:///{path}"
        middle = date.fromisoformat(_middle(url))
        valid = micros(end_of_dutch_day(middle))
        known_at = micros(datetime(middle.year, middle.month, middle.day, 23, 59, 59, tzinfo=UTC))
        for label, known in (("known now", KNOWN_NOW), ("knownAt", known_at)):
            for version in args.versions:
                total, n = steps(url, version, valid, known)
                print(
                    f"{int(events):>9,} {middle} {label:<9} v{version}:"
                    f" count {total:>9,} {n:>7,} VM steps"
                )


if __name__ == "__main__":
    main()
