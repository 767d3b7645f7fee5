"""`python -m bench.asof24e_probe DB DAY [CODE]`: the event log's as-of roots on a read model
that holds only the event log and its counts (asof24e: a 1M history's event log built alone,
`bench.asof24e_probe --build N DB`, when the whole 1M read model is not at hand).

Asks `events(asOf, knownAt)`, `events(asOf)` and `events(asOf, filter: {organisationCode})`
at DAY (known at its end, as the suite asks) through the gateway's app in process, and runs
every SELECT it sent on a plain connection with every SQLite VM step counted, per statement.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time

from bench.asof_plans import _captured
from bench.suites.asof import EVENTS, EVENTS_KNOWN, throwaway


def build(events: int, path: str) -> None:
    from bench.config import QUICK
    from bench.direct import stored_events
    from bench.history.generator import generate
    from bootstrap.parts import projection_runner
    from eventstore.sql import make_engine
    from gateway.projections import EventCountsProjection, EventLogProjection

    started = time.perf_counter()
    streams = stored_events(generate(QUICK.seed, events))
    engine = make_engine(f"sqlite:///{path}")
    throwaway(engine)
    try:
        for kind in (EventLogProjection, EventCountsProjection):
            runner = projection_runner(None, engine, kind(), batch=2_000)  # type: ignore[arg-type]
            runner.create_tables()
            for context in runner.projection.contexts:
                stream = streams.get(context.stream, [])
                for first in range(0, len(stream), 2_000):
                    runner.apply_batch(context.stream, list(stream[first : first + 2_000]))
    finally:
        engine.dispose()
    print(f"built {path} in {time.perf_counter() - started:.0f} s")


def steps(path: str, sql: str, parameters: object) -> int:
    counted = 0

    def tick() -> int:
        nonlocal counted
        counted += 1
        return 0

    with sqlite3.connect(path) as conn:
        conn.execute(sql, parameters).fetchall()  # type: ignore[arg-type]
        conn.set_progress_handler(tick, 1)
        conn.execute(sql, parameters).fetchall()  # type: ignore[arg-type]
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db")
    parser.add_argument("day", nargs="?")
    parser.add_argument("code", nargs="?")
    parser.add_argument("--build", type=int, help="build N events' event log and counts first")
    args = parser.parse_args()
    if args.build:
        build(args.build, args.db)
    if not args.day:
        return
    url = f"sqlite:///{args.db}"
    asks = {
        "events(asOf, knownAt)": (
            EVENTS_KNOWN,
            {"asOf": args.day, "knownAt": f"{args.day}T23:59:59+00:00"},
        ),
        "events(asOf)": (EVENTS, {"asOf": args.day}),
    }
    if args.code:
        asks["events(asOf, organisationCode)"] = (
            EVENTS,
            {"asOf": args.day, "filter": {"organisationCode": args.code}},
        )
    for name, (query, variables) in asks.items():
        answer, sent, ms = asyncio.run(_captured(url, {"query": query, "variables": variables}, 5))
        assert not answer.get("errors"), answer
        counts = [
            steps(args.db, sql, parameters)
            for sql, parameters in sent
            if sql.lstrip().upper().startswith(("SELECT", "WITH"))
        ]
        total = answer["data"]["events"]["totalCount"]
        print(
            f"{name:<32} totalCount {total:>8,}  VM steps {sum(counts):>7,} {counts}"
            f"  request {ms:.2f} ms"
        )


if __name__ == "__main__":
    main()
