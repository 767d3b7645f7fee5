"""`python -m bench.asof_count_ab DB:EVENTS ...`: the event log's stored count at a past
horizon, v1's cells against v2's Fenwick tree (asof19), on read models built by
`bench.suites.asof.build` (v2), in one process, alternating.

Both forms answer the same part of the count: the events of the weeks wholly before D's and
K's (`projections.event_counts`; the edge strips are the same statement in both). v1's cells
(and its weeks, known now) are derived here from the log and the v2 tables' late events, as
v1's projection wrote them, into `asof_ab_cells` / `asof_ab_weeks` of the same file (kept
for a second run). Per horizon: each form's answer (they must agree), its SQLite VM steps (a
load-independent count of the work) and its median wall time over alternating repeats.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from collections import Counter
from datetime import UTC, date, datetime

from contracts_schema.calendar import end_of_dutch_day
from eventstore.bitemporal_sql import micros
from gateway.projections import EventCountsProjection, EventLogProjection
from gateway.projections.event_counts import LEVELS, SIZE, bucket, downward, nodes, place

COUNTS = EventCountsProjection().key
LOG = EventLogProjection().key


def _micros(text: str) -> int:
    return micros(datetime.fromisoformat(text).replace(tzinfo=UTC))


def _create(conn: sqlite3.Connection) -> None:
    """v1's two tables as v1 declared them (WITHOUT ROWID, keyed as its sums read them)."""
    conn.execute(
        "CREATE TABLE asof_ab_cells (valid_bucket INTEGER, known_bucket INTEGER, n INTEGER,"
        " PRIMARY KEY (valid_bucket, known_bucket)) WITHOUT ROWID"
    )
    conn.execute(
        "CREATE TABLE asof_ab_weeks (valid_bucket INTEGER PRIMARY KEY, n INTEGER) WITHOUT ROWID"
    )


def derive_v1(conn: sqlite3.Connection) -> int:
    """v1's cells and weeks from the log: each event at (week happened, week known)."""
    found = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'asof_ab_cells'"
    ).fetchone()[0]
    if found:
        return int(conn.execute("SELECT count(*) FROM asof_ab_cells").fetchone()[0])
    v1 = COUNTS.replace("_v2", "_v1")
    if conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = ?", (f"{v1}_cells",)
    ).fetchone()[0]:
        # Built by v1 itself (`tree_from_v1`'s case): its own cells and weeks.
        _create(conn)
        for table in ("cells", "weeks"):
            conn.execute(f"INSERT INTO asof_ab_{table} SELECT * FROM {v1}_{table}")
        conn.commit()
        return int(conn.execute("SELECT count(*) FROM asof_ab_cells").fetchone()[0])
    late = {
        (stream, seq): known
        for stream, seq, known in conn.execute(f"SELECT stream, seq, known_from FROM {COUNTS}_late")
    }
    cells: Counter[tuple[int, int]] = Counter()
    for stream, seq, occurred, recorded in conn.execute(
        f"SELECT stream, seq, occurred_at, recorded_at FROM {LOG}_events"
    ):
        known = late.get((stream, seq), _micros(recorded))
        cells[(bucket(_micros(occurred)), bucket(known))] += 1
    weeks: Counter[int] = Counter()
    for (v, _), n in cells.items():
        weeks[v] += n
    _create(conn)
    conn.executemany(
        "INSERT INTO asof_ab_cells VALUES (?, ?, ?)", [(*k, n) for k, n in cells.items()]
    )
    conn.executemany("INSERT INTO asof_ab_weeks VALUES (?, ?)", list(weeks.items()))
    conn.commit()
    return len(cells)


def tree_from_v1(conn: sqlite3.Connection) -> int:
    """A read model built by event_counts v1 given v2's tables without a rebuild: v2's tree
    from v1's cells (`event_counts.nodes`, what v2's apply adds for the same cells), its late
    events, aggregates and checkpoints copied. For a kept bench read model (the 1M one takes
    an hour to build on a loaded machine); `main` then checks the tree against the cells."""
    v1, v2 = COUNTS.replace("_v2", "_v1"), COUNTS
    have = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    if f"{v2}_tree" in have or f"{v1}_cells" not in have:
        return 0
    cells: Counter[tuple[int, int]] = Counter()
    for v, k, n in conn.execute(f"SELECT valid_bucket, known_bucket, n FROM {v1}_cells"):
        cells[(v, k)] += n
    tree = nodes(cells)
    with conn:
        for suffix in ("aggregates", "late"):
            (sql,) = conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = ?", (f"{v1}_{suffix}",)
            ).fetchone()
            conn.execute(sql.replace(v1, v2))
            conn.execute(f"INSERT INTO {v2}_{suffix} SELECT * FROM {v1}_{suffix}")
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL",  # not the primary keys' own
            (f"{v1}_late",),
        ).fetchall():
            conn.execute(sql.replace(v1, v2))
        conn.execute(
            f"CREATE TABLE {v2}_tree (v INTEGER NOT NULL, k INTEGER NOT NULL, n INTEGER NOT NULL,"
            " PRIMARY KEY (v, k)) WITHOUT ROWID"
        )
        conn.executemany(
            f"INSERT INTO {v2}_tree VALUES (?, ?, ?)", [(*key, n) for key, n in tree.items()]
        )
        conn.execute(
            "INSERT INTO projection_checkpoints SELECT ?, stream, seq, updated_at"
            " FROM projection_checkpoints WHERE projection = ?",
            (v2, v1),
        )
    conn.execute("ANALYZE")
    return len(tree)


def tree_from_log(path: str) -> int:
    """v2's tables from a read model's own event log (a snapshot taken before its event
    counts were built): each event at (week happened, week known), known = the running
    maximum of its aggregate's recordings in stream order, as v2's apply does."""
    from sqlalchemy import MetaData

    from eventstore.sql import make_engine

    engine = make_engine(f"sqlite:///{path}")
    projection = EventCountsProjection()
    tables = MetaData()
    projection.define(tables)
    tables.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    known_at: dict[str, int] = {}
    cells: Counter[tuple[int, int]] = Counter()
    late = []
    for stream, seq, context, kind, aggregate, occurred, recorded in conn.execute(
        f"SELECT stream, seq, context, aggregate_type, aggregate_id, occurred_at, recorded_at"
        f" FROM {LOG}_events ORDER BY stream, seq"
    ):
        key = f"{context}\x1f{kind}\x1f{aggregate}"
        at = _micros(recorded)
        before = known_at.get(key)
        known = at if before is None or before <= at else before
        happened = _micros(occurred)
        cells[(bucket(happened), bucket(known))] += 1
        if known != at:
            late.append((stream, seq, happened, at, known))
        known_at[key] = known
    tree = nodes(cells)
    with conn:
        conn.executemany(
            f"INSERT INTO {COUNTS}_tree VALUES (?, ?, ?)", [(*k, n) for k, n in tree.items()]
        )
        conn.executemany(f"INSERT INTO {COUNTS}_late VALUES (?, ?, ?, ?, ?)", late)
        conn.executemany(f"INSERT INTO {COUNTS}_aggregates VALUES (?, ?)", list(known_at.items()))
        conn.execute(
            "INSERT INTO projection_checkpoints SELECT ?, stream, seq, updated_at"
            " FROM projection_checkpoints WHERE projection = ?",
            (COUNTS, LOG),
        )
    conn.execute("ANALYZE")
    conn.close()
    return len(tree)


def _pad(nodes: list[int]) -> list[int]:
    return nodes + [0] * (LEVELS - len(nodes))


def statements(valid: int, known: int | None) -> dict[str, tuple[str, list[int]]]:
    vb = bucket(valid)
    marks = ", ".join("(?)" for _ in range(LEVELS))
    tree = (  # as the gateway sends it (`readmodels._tree_sum`)
        f"WITH vs(v) AS (VALUES {marks}), ks(k) AS (VALUES {marks})"
        f" SELECT coalesce(sum(t.n), 0) FROM vs CROSS JOIN ks CROSS JOIN {COUNTS}_tree t"
        " WHERE t.v = vs.v AND t.k = ks.k"
    )
    vs = _pad(downward(place(vb) - 1))
    if known is None:
        return {
            "v1 weeks": (
                "SELECT coalesce(sum(n), 0) FROM asof_ab_weeks WHERE valid_bucket < ?",
                [vb],
            ),
            "v2 tree": (tree, vs + _pad([SIZE])),
        }
    kb = bucket(known)
    return {
        "v1 cells": (
            "SELECT coalesce(sum(n), 0) FROM asof_ab_cells"
            " WHERE valid_bucket < ? AND known_bucket < ?",
            [vb, kb],
        ),
        "v2 tree": (tree, vs + _pad(downward(place(kb) - 1))),
    }


def run(conn: sqlite3.Connection, sql: str, parameters: list[int]) -> tuple[int, int, float]:
    """The answer, the VM steps (counted by a progress handler, which itself costs ~1 us a
    step: so in a run of their own) and the wall time of a run without the handler."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    conn.execute(sql, parameters).fetchone()  # a changed schema is read by the first one
    conn.set_progress_handler(tick, 1)
    (counted,) = conn.execute(sql, parameters).fetchone()
    conn.set_progress_handler(None, 1)
    t = time.perf_counter()
    (answer,) = conn.execute(sql, parameters).fetchone()
    ms = (time.perf_counter() - t) * 1000
    assert answer == counted
    return int(answer), steps[0], ms


def middle_day(conn: sqlite3.Connection) -> date:
    low, high = conn.execute(
        f"SELECT min(occurred_at), max(occurred_at) FROM {LOG}_events"
    ).fetchone()
    a, b = datetime.fromisoformat(low), datetime.fromisoformat(high)
    return (a + (b - a) / 2).date()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("databases", nargs="+", help="DB:EVENTS")
    parser.add_argument("--repeat", type=int, default=41)
    parser.add_argument(
        "--tree-from-v1", action="store_true", help="give a v1-built read model v2's tables first"
    )
    parser.add_argument(
        "--tree-from-log", action="store_true", help="give a read model v2's tables from its log"
    )
    args = parser.parse_args()
    for spec in args.databases:
        if args.tree_from_log:
            t = time.perf_counter()
            made = tree_from_log(spec.partition(":")[0])
            print(
                f"{spec}: v2's tables from the log, {made:,} nodes"
                f" ({time.perf_counter() - t:.1f} s)"
            )
        path, _, events = spec.partition(":")
        conn = sqlite3.connect(path)
        t = time.perf_counter()
        if args.tree_from_v1:
            made = tree_from_v1(conn)
            print(
                f"{path}: v2's tree from v1's cells, {made:,} nodes"
                f" ({time.perf_counter() - t:.1f} s)"
            )
            t = time.perf_counter()
        cells = derive_v1(conn)
        tree = conn.execute(f"SELECT count(*) FROM {COUNTS}_tree").fetchone()[0]
        print(
            f"{path}: {events} events, v1 cells {cells:,}, v2 tree nodes {tree:,}"
            f" (derived in {time.perf_counter() - t:.1f} s)"
        )
        day = middle_day(conn)
        valid = micros(end_of_dutch_day(day))
        knowns = {
            "known now": None,
            "known at the end of the day": valid,
            "known a year later": valid
            + micros(datetime(2001, 1, 1, tzinfo=UTC))
            - micros(datetime(2000, 1, 1, tzinfo=UTC)),
            "known a week later": valid + 7 * 86_400_000_000,
        }
        for label, known in knowns.items():
            forms = statements(valid, known)
            answers: dict[str, int] = {}
            steps: dict[str, int] = {}
            times: dict[str, list[float]] = {name: [] for name in forms}
            for r in range(args.repeat):
                order = list(forms) if r % 2 == 0 else list(reversed(forms))
                for name in order:
                    answer, n, ms = run(conn, *forms[name])
                    answers.setdefault(name, answer)
                    assert answers[name] == answer
                    steps[name] = n
                    times[name].append(ms)
            agree = len(set(answers.values())) == 1
            print(
                f"  asOf {day} {label}: "
                + "; ".join(
                    f"{name} {answers[name]:,} ({steps[name]:,} steps,"
                    f" {statistics.median(times[name]):.3f} ms)"
                    for name in forms
                )
                + ("" if agree else "  DISAGREE")
            )
        conn.close()


if __name__ == "__main__":
    main()
