"""`python -m bench.rebuild_derived_stages 100000 --rounds 2`: enrolment's rebuild CPU with
its derived rows (programme spans, pieces, totals, participation spans and total) recomputed
per batch against left out of the batches and derived once at the end (rebuild22), without a
broker, in one process, in alternating turns on one generated history. `--model event_log`
or `--model contracts` (rebuild23): that read model instead (its per-code counts; its status
and supplier corners).

Each turn builds the enrolment read model alone into a fresh SQLite file through its
runner's batch path (`ProjectionRunner.apply_batch`, as `bench.direct`), stream by stream in
`--batch` events a transaction, and, deferred, runs `split_rebuild._derive` at the end (in
the measured CPU). Prints per turn the CPU per event of the batches and of the derivation.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bench.direct import _batches, stored_events
from bench.history.generator import generate
from eventstore.split_rebuild import _derive
from eventstore.sql import make_engine


def build(
    path: Path,
    streams: dict,  # type: ignore[type-arg]
    batch: int,
    defer: bool,
    model: str = "enrolment",
) -> dict[str, float]:
    from bootstrap.parts import projection_runner
    from gateway.projections import ALL

    engine = make_engine(f"sqlite:///{path}")
    projection = next(k for k in ALL if k.name == model)()
    projection.deferring = defer
    runner = projection_runner(None, engine, projection, batch=batch)  # type: ignore[arg-type]
    runner.create_tables()
    started = time.process_time()
    for context in projection.contexts:
        for events in _batches(streams.get(context.stream, []), batch):
            runner.apply_batch(context.stream, events)
    batches = time.process_time() - started
    started = time.process_time()
    if defer:
        _derive(engine, [projection])
    derive = time.process_time() - started
    engine.dispose()
    return {"batches": batches, "derive": derive}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("events", type=int)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--model", default="enrolment")
    args = parser.parse_args()
    streams = stored_events(generate(args.seed, args.events))
    n = sum(len(s) for s in streams.values())
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            sides = [False, True] if round_ % 2 == 0 else [True, False]
            for defer in sides:
                path = Path(scratch) / f"{args.model}-{round_}-{defer}.db"
                cpu = build(path, streams, args.batch, defer, args.model)
                print(
                    json.dumps(
                        {
                            "model": args.model,
                            "round": round_,
                            "side": "deferred" if defer else "per batch",
                            "events": n,
                            "batch": args.batch,
                            "batches_us_per_event": round(cpu["batches"] / n * 1e6, 1),
                            "derive_us_per_event": round(cpu["derive"] / n * 1e6, 1),
                            "all_us_per_event": round(sum(cpu.values()) / n * 1e6, 1),
                            "load": os.getloadavg()[0],
                        }
                    ),
                    flush=True,
                )
                path.unlink()


if __name__ == "__main__":
    main()
