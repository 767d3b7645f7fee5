"""`python -m bench.rebuild_prepare N [--only KEY ...] [--profile] [--rounds R]`: each
gateway read model's `prepare` alone (its folds, timelines and staged rows; no database), in
2,000-event batches of the generated history (seed 2026), the events decoded beforehand.

The fold path's own CPU, without the writes, the checkpoint or the decode: what
`bench.rebuild_stages`' "prep cpu" holds, less the decode. `--rounds R` builds each read model
R times (a fresh projection each time) and prints every round's figure and the best, so an A/B
of two branches can be read in alternating turns. `--profile`: cProfile of the last round,
top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from typing import Any

from sqlalchemy import MetaData

import eventstore.versioned as versioned
from bench.direct import stored_events
from bench.history.generator import generate
from eventstore.collector import relaxed_for_catch_up
from eventstore.projection import BatchProjection
from eventstore.versioned import VersionedProjection, recorded

RANGE = 2_000


def _history(projection: BatchProjection, history: Any) -> Any:
    """Earlier events of an aggregate, as the runner would load them (never needed when the
    whole history is folded in order in one process: a check, not a path)."""

    def load(*args: Any) -> Any:
        raise AssertionError(f"{projection.key} asked for the history of {args[:3]}")

    return load


def _one(kind: Any, streams: dict[str, list[Any]], dialect: Any) -> tuple[float, int]:
    projection = kind()
    projection.define(MetaData())
    if isinstance(projection, VersionedProjection):
        projection.history = _history(projection, None)
    events = [e for c in projection.contexts for e in streams.get(c.stream, [])]
    batches = [events[i : i + RANGE] for i in range(0, len(events), RANGE)]
    started = time.process_time()
    for batch in batches:
        projection.prepare(dialect, batch)
    return time.process_time() - started, len(events)


def main() -> None:
    from sqlalchemy.dialects import sqlite

    from gateway.projections import ALL

    parser = argparse.ArgumentParser(prog="python -m bench.rebuild_prepare")
    parser.add_argument("events", nargs="?", type=int, default=20_000)
    parser.add_argument("--only", action="append", help="a read model's name (enrolment, ...)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    streams = stored_events(generate(seed=2026, events=args.events))
    count = sum(len(s) for s in streams.values())
    versioned._TYPED_MAX = 2 * count  # every event decoded once, beforehand
    for stream in streams.values():
        for event in stream:
            recorded(event)
    dialect = sqlite.dialect()
    kinds = [k for k in ALL if issubclass(k, BatchProjection)]
    if args.only:
        kinds = [k for k in kinds if k.name in args.only]
    print(f"{count:,} events; prepare CPU us/event of all, per round (best last)")
    for kind in kinds:
        figures = []
        with relaxed_for_catch_up(count):
            for _ in range(args.rounds):
                cpu, _n = _one(kind, streams, dialect)
                figures.append(cpu / count * 1e6)
        print(f"  {kind.name:14s} " + " ".join(f"{f:7.1f}" for f in figures), end="")
        print(f"   best {min(figures):7.1f}")
        if args.profile:
            profiler = cProfile.Profile()
            with relaxed_for_catch_up(count):
                profiler.enable()
                _one(kind, streams, dialect)
                profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
