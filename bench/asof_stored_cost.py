"""`python -m bench.asof_stored_cost`: what asof20's stored counts cost to write, A/B.

The two read models asof20 changed, contracts (v6 -> v7: the supplier rows' corners per
supplier, `projections.supplier_counts`) and enrolment (v4 -> v5: the municipalities'
participation spans and total, `projections.participation_counts`), applied to the bench's
generated history through their runners' own batch path (`ProjectionRunner.apply_batch`, as
`bench.suites.asof.build` builds them), each time into a fresh SQLite file in /dev/shm:
A = main's versions (the same code, run as the version before: no supplier corners, no
participation spans), B = this branch's. Alternating rounds, the order reversed every
other one. Two shapes, the process CPU of each divided by its events:

- rebuild: every event in batches of `--batch`;
- live: the history's first events in batches, then its last `--live` events one per
  transaction (the live runner's shape for a quiet stream), only those measured.

`--round asof21`: the event log instead, v2 (A) against v3 (B: the links carry their
event's instants in two indexes by code, per-code counts by week and block; the events'
key-times index dropped).

`--round asof22`: contracts v8 (A) against v9 (B: the supplier rows' horizon index replaced
by one by supplier and contract with the intervals).

`--round asof24e`: the event counts v2 (A: the Fenwick tree's cells weeks) against v3 (B:
days).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

from bench.config import QUICK
from bench.direct import stored_events
from bench.history.generator import generate
from bootstrap.parts import projection_runner
from eventstore.projection import Projection
from eventstore.sql import make_engine
from gateway.projections import (
    ContractsProjection,
    EnrolmentProjection,
    EventCountsProjection,
    EventLogProjection,
)

ROUNDS: dict[str, dict[type[Projection], dict[str, int]]] = {
    "asof20": {ContractsProjection: {"A": 6, "B": 7}, EnrolmentProjection: {"A": 4, "B": 5}},
    "asof21": {EventLogProjection: {"A": 2, "B": 3}},
    "asof22": {ContractsProjection: {"A": 8, "B": 9}},
    "asof24e": {EventCountsProjection: {"A": 2, "B": 3}},
}


def _apply(
    kind: type[Projection],
    version: int,
    streams: dict[str, Any],
    batch: int,
    live: int,
) -> tuple[float, float, int, int]:
    """(rebuild CPU s, live CPU s, events rebuilt, events applied live) of one read model."""
    directory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    handle, path = tempfile.mkstemp(suffix=".db", dir=directory)
    os.close(handle)
    engine = make_engine(f"sqlite:///{path}")
    try:
        projection = kind()
        projection.version = version  # type: ignore[misc]
        runner = projection_runner(None, engine, projection, batch=batch)  # type: ignore[arg-type]
        runner.create_tables()
        rebuilt = applied = 0
        rebuild_cpu = live_cpu = 0.0
        for context in projection.contexts:
            stream = streams.get(context.stream, [])
            head, tail = stream[: max(0, len(stream) - live)], stream[max(0, len(stream) - live) :]
            started = time.process_time()
            for first in range(0, len(head), batch):
                runner.apply_batch(context.stream, list(head[first : first + batch]))
            rebuild_cpu += time.process_time() - started
            rebuilt += len(head)
            started = time.process_time()
            for event in tail:
                runner.apply_batch(context.stream, [event])
            live_cpu += time.process_time() - started
            applied += len(tail)
        return rebuild_cpu, live_cpu, rebuilt, applied
    finally:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--live", type=int, default=300, help="last events of each stream")
    parser.add_argument("--round", default="asof20", choices=sorted(ROUNDS))
    args = parser.parse_args()
    versions = ROUNDS[args.round]
    streams = stored_events(generate(QUICK.seed, args.events))
    found: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in range(args.rounds):
        for kind in versions:
            for side in "AB" if r % 2 == 0 else "BA":
                version = versions[kind][side]
                rebuild, live, rebuilt, applied = _apply(
                    kind, version, streams, args.batch, args.live
                )
                us = (rebuild / max(rebuilt, 1) * 1e6, live / max(applied, 1) * 1e6)
                found.setdefault((kind.name, side), []).append(us)
                print(
                    f"round {r} {kind.name:<10} {side} v{version}:"
                    f" rebuild {us[0]:7.1f} us/event ({rebuilt:,}),"
                    f" live {us[1]:8.1f} us/event ({applied:,})",
                    flush=True,
                )
    for kind in versions:
        a, b = found[(kind.name, "A")], found[(kind.name, "B")]
        ra, rb = statistics.median(x for x, _ in a), statistics.median(x for x, _ in b)
        la, lb = statistics.median(y for _, y in a), statistics.median(y for _, y in b)
        print(
            f"{kind.name:<10} rebuild A {ra:7.1f} B {rb:7.1f} us/event ({rb / ra:.2f}x);"
            f" live A {la:8.1f} B {lb:8.1f} us/event ({lb / la:.2f}x)"
        )


if __name__ == "__main__":
    main()
