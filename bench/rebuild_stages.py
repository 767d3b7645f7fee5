"""`python -m bench.rebuild_stages [N] [--db URL] [--statements]`: each gateway read model's
apply cost per event in a rebuild, split into its fold (`prepare`: decode, timelines, rows;
no database) and its writes (`Prepared.write`: the statements in the runner's transaction).

Without a broker, in one process, on the generated history (seed 2026): every read model is
built through its own runner's batch path (`bench.direct.build_read_models`, 2,000-event
batches as a catch-up range), and each is charged the CPU (`time.process_time`) of its own
prepare and write, and the wall of its writes (on PostgreSQL most of a write's work is the
server's, outside this process's CPU); "all cpu" is the process's CPU over the whole build
of each (its runner's checkpoints, trust checks and index build included: at a load of 20
the walls say little, this column still does). `--derive-at-end`: the read models that
defer their derived rows (`BatchProjection.defers_derived`) leave them out of the batches and
derive them at the end, as a split rebuild's group does (rebuild24: the figures
`rebuild_cost` is set from). `--statements`: the write wall per SQL
statement (its first 70 characters), heaviest first. Ported from rebuild14 (382848a), which
also timed the decode, hash, signature and hand-over stages; those are the reader's, not the
applies'.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.direct import stored_events
from bench.history.generator import generate
from eventstore import bulk
from eventstore.collector import relaxed_for_catch_up
from eventstore.pg_launcher import PostgresCluster
from eventstore.projection import BatchProjection
from eventstore.rebuild_indexes import drop, ensure, read_indexes
from eventstore.sql import make_engine

RANGE = 2_000


class _Meter:
    """CPU and wall per read model and stage, and wall per statement."""

    def __init__(self) -> None:
        self.cpu: dict[tuple[str, str], float] = defaultdict(float)
        self.wall: dict[tuple[str, str], float] = defaultdict(float)
        self.statements: dict[str, float] = defaultdict(float)
        self.current = "?"

    @contextmanager
    def stage(self, name: str, stage: str) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu[name, stage] += time.process_time() - cpu
            self.wall[name, stage] += time.perf_counter() - wall


@contextmanager
def _metered(meter: _Meter) -> Iterator[None]:
    """Every statement's wall timed (the module functions patched for this run only)."""
    import eventstore.versioned as versioned

    execute = bulk.execute

    def timed_execute(conn: Any, statements: Any) -> None:
        for statement in statements:
            started = time.perf_counter()
            execute(conn, [statement])
            meter.statements[f"{meter.current}: {statement.sql[:70]}"] += (
                time.perf_counter() - started
            )

    try:
        bulk.execute = timed_execute
        versioned.execute = timed_execute  # type: ignore[attr-defined]
        yield
    finally:
        bulk.execute = execute
        versioned.execute = execute  # type: ignore[attr-defined]


def _build(
    engine: Any,
    streams: dict[str, list[Any]],
    meter: _Meter,
    deferred: bool,
    derive_at_end: bool = False,
) -> dict[str, float]:
    """`bench.direct.build_read_models`, each read model's prepare and write timed."""
    from bootstrap.parts import projection_runner
    from gateway.projections import ALL

    walls: dict[str, float] = {}
    for kind in ALL:
        started, cpu = time.perf_counter(), time.process_time()
        projection = kind()
        if isinstance(projection, BatchProjection):
            original = projection.prepare

            def prepare(
                dialect: Any, events: Any, original: Any = original, key: str = projection.key
            ) -> Any:
                with meter.stage(key, "prepare"):
                    prepared = original(dialect, events)
                return None if prepared is None else _TimedPrepared(prepared, key, meter)

            projection.prepare = prepare  # type: ignore[method-assign]
        runner = projection_runner(None, engine, projection, batch=RANGE)  # type: ignore[arg-type]
        runner.create_tables()
        # As a split rebuild's group builds it on its fresh file (`split_rebuild._deferring`):
        # the derived rows left out of the batches, derived once at the end (rebuild22/23).
        deferring = (
            derive_at_end and isinstance(projection, BatchProjection) and projection.defers_derived
        )
        if deferring:
            projection.deferring = True
        indexes = read_indexes(runner.metadata)
        if deferred:  # as a rebuild from nothing does (`ProjectionRunner._defer_read_indexes`)
            with engine.begin() as conn:
                drop(conn, indexes)
        for context in projection.contexts:
            events = streams.get(context.stream, [])
            for first in range(0, len(events), RANGE):
                runner.apply_batch(context.stream, list(events[first : first + RANGE]))
        if deferring:
            from eventstore.split_rebuild import _derive

            with meter.stage(projection.key, "derive"):
                _derive(engine, [projection])
        if deferred:
            with meter.stage(projection.key, "index"), engine.begin() as conn:
                ensure(conn, runner.metadata)
        walls[projection.key] = time.perf_counter() - started
        meter.cpu[projection.key, "all"] = time.process_time() - cpu
    return walls


def _split_check(measured: dict[str, float]) -> None:
    """Each read model's `rebuild_cost` beside its measured all-wall us/event, and the
    two-process split each gives (`split_rebuild.partition`): when they differ, the
    constants have drifted from the code (rebuild16: re-measure at 100k events and set them)."""
    from eventstore.split_rebuild import partition
    from gateway.projections import ALL

    def split(cost: dict[str, int]) -> list[list[str]]:
        costed = [type(k.__name__, (k,), {"rebuild_cost": cost[k().key]}) for k in ALL]
        return sorted(sorted(m().name for m in part) for part in partition(costed, 2))

    print("rebuild_cost (us/event) beside the measured all wall:")
    for kind in ALL:
        key = kind().key
        print(f"  {key:16s} {kind.rebuild_cost:6d} {measured[key]:8.1f}")
    by_constants = split({k().key: k.rebuild_cost for k in ALL})
    by_measured = split({key: round(v) for key, v in measured.items()})
    print("split by the constants:", by_constants)
    print("split by this run     :", by_measured, "(same)" if by_measured == by_constants else "")


class _TimedPrepared:
    def __init__(self, prepared: Any, key: str, meter: _Meter) -> None:
        self._prepared, self._key, self._meter = prepared, key, meter

    def write(self, conn: Any) -> Any:
        self._meter.current = self._key
        with self._meter.stage(self._key, "write"):
            return self._prepared.write(conn)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild_stages")
    parser.add_argument("events", nargs="?", type=int, default=10_000)
    parser.add_argument("--db", help="a database URL (default: a scratch SQLite file)")
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL cluster (pg_launcher)"
    )
    parser.add_argument("--statements", action="store_true")
    parser.add_argument(
        "--keep-indexes", action="store_true", help="keep the read indexes while applying"
    )
    parser.add_argument(
        "--derive-at-end",
        action="store_true",
        help="the read models that defer their derived rows do, as a split rebuild's group",
    )
    args = parser.parse_args()
    streams = stored_events(generate(seed=2026, events=args.events))
    count = sum(len(s) for s in streams.values())
    meter = _Meter()
    cluster = PostgresCluster().start() if args.postgres else None
    url = cluster.url if cluster is not None else args.db
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(url or f"sqlite:///{Path(scratch) / 'stages.db'}")
        # As a catch-up runs (`eventstore.catchup`): the collector relaxed, else its full
        # collections of the growing heap are charged to whatever allocates.
        with _metered(meter), relaxed_for_catch_up(count):
            walls = _build(engine, streams, meter, not args.keep_indexes, args.derive_at_end)
        engine.dispose()
    if cluster is not None:
        cluster.stop()
    print(f"{count:,} events ({engine.dialect.name}); us/event per read model")
    heads = (
        "all wall",
        "all cpu",
        "prep cpu",
        "write cpu",
        "write wall",
        "index wall",
        "derive cpu",
    )
    print(f"  {'read model':16s} " + " ".join(f"{h:>10s}" for h in heads))
    total = [0.0] * 7
    for key, wall in sorted(walls.items(), key=lambda kv: -kv[1]):
        row = [
            wall,
            meter.cpu[key, "all"],
            meter.cpu[key, "prepare"],
            meter.cpu[key, "write"],
            meter.wall[key, "write"],
            meter.wall[key, "index"],
            meter.cpu[key, "derive"],
        ]
        total = [a + b for a, b in zip(total, row, strict=True)]
        print(f"  {key:16s} " + " ".join(f"{v / count * 1e6:10.1f}" for v in row))
    print(f"  {'all':16s} " + " ".join(f"{v / count * 1e6:10.1f}" for v in total))
    _split_check({key: wall / count * 1e6 for key, wall in walls.items()})
    if args.statements:
        print("write wall per statement, us/event:")
        for sql, seconds in sorted(meter.statements.items(), key=lambda kv: -kv[1])[:25]:
            print(f"  {seconds / count * 1e6:8.1f}  {sql}")


if __name__ == "__main__":
    main()
