"""`python -m bench.scale_curve 20000 100000 200000`: CPU per event of a direct rebuild by size.

Builds every gateway read model from a generated history without NATS (`bench.direct`,
the runners' own `apply_batch`), under the catch-up's relaxed collector as a NATS rebuild
runs, and prints process CPU per event and per read model for each size. `--profile PATH`
writes a cProfile of the build (the generation and sealing are outside it).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import time
import uuid

from sqlalchemy import event

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from eventstore.collector import relaxed_for_catch_up
from eventstore.sql import make_engine


def measure(
    events: int, seed: int, profile: str | None, batch: int, pragmas: list[str]
) -> dict[str, object]:
    import bootstrap.parts  # noqa: F401  (imported outside the measured CPU: see scale_nats)

    history = generate(seed, events)
    streams = stored_events(history)
    n = sum(len(s) for s in streams.values())
    gc.collect()
    gc.freeze()  # the history and its sealed events live as long as the build: out of sight
    engine = make_engine(f"sqlite:////tmp/scale/curve-{events}-{uuid.uuid4().hex[:8]}.db")
    if pragmas:

        @event.listens_for(engine, "connect")
        def _extra(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            for pragma in pragmas:
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

    prof = cProfile.Profile(time.process_time) if profile else None
    times, wall = os.times(), time.perf_counter()
    with relaxed_for_catch_up(sum(map(len, streams.values()))):
        if prof:
            prof.enable()
        built = build_read_models(engine, streams, batch=batch)
        if prof:
            prof.disable()
    after, wall = os.times(), time.perf_counter() - wall
    user, system = after.user - times.user, after.system - times.system
    cpu = user + system
    if prof and profile:
        prof.dump_stats(profile)
    engine.dispose()
    gc.unfreeze()
    return {
        "events": n,
        "cpu_s": round(cpu, 2),
        "user_s": round(user, 2),
        "sys_s": round(system, 2),
        "wall_s": round(wall, 2),
        "pragmas": pragmas,
        "cpu_us_per_event": round(cpu / n * 1e6, 1),
        "per_projection_wall_s": {k: round(v, 2) for k, v in built.per_projection.items()},
        "parked": built.parked,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--pragma", action="append", default=[], help="e.g. cache_size=-65536")
    parser.add_argument("--profile", help="cProfile file prefix (one per size)")
    args = parser.parse_args()
    for size in args.sizes:
        path = f"{args.profile}-{size}.prof" if args.profile else None
        print(json.dumps(measure(size, args.seed, path, args.batch, args.pragma)), flush=True)


if __name__ == "__main__":
    main()
