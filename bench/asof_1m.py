"""`python -m bench.asof_1m` (`make bench-asof-1m`): as-of latency at 10k, 100k and 1M events.

The 1M read model takes minutes to build, too long for `make bench` (which measures 10k and
100k): this run measures all three sizes side by side in alternating rounds, each beside its
present query, and writes bench/results/full-asof.json. The read models are built directly
through the projections' own batch path (see `bench.suites.asof`), not read back through NATS.

`--kept EVENTS=PATH` measures a read model built earlier by `bench.suites.asof.build` (e.g.
`python -m bench.asof_plans --build 1000000 DIR`) instead of building that size again, and
leaves it in place (`--extend`: first build into it the read models it lacks, a version
added since); `--sizes` and `--mode` choose what is measured and where it is written.

Where and what it needs (asof19): each size's read model is built in /dev/shm when it has
room for it (`$BENCH_ASOF_DIR` chooses another directory), so the 1M build waits on no
disk: ~2.5 GB of /dev/shm for the 1M file (~0.25 GB at 100k) and ~4 GB of memory for the
building process (the generated history and its sealed events), ~7 GB at the peak in all;
the three gateways then serve the files from memory. Without that room it builds in /tmp
(asof18's 1M build on disk: 27 min for less than half the file).

`--keep DIR` (asof22) keeps each size's read model as DIR/asof-<events>.db between runs:
built there the first time, measured as it is after (given first, through `extend`, any
read model version added since it was built). So the 1M build (~45-60 min of one core on a
quiet machine, more under load) is paid once:

    python -m bench.asof_1m --keep /dev/shm/asof --mode full-asof

(`ASOF_KEEP=/dev/shm/asof make bench-asof-1m` runs it so; the kept files stay in memory
until removed.) A version whose rows
are the older version's (only its indexes changed) can be given to a kept file faster
with `python -m bench.asof_copy_version`.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import infra, report
from bench.__main__ import say
from bench.config import FULL, QUICK
from bench.suites.asof import ROUNDS, build, extend, run_sizes

MODE = "full-asof"


def keep(directory: Path, events: int) -> str:
    """The read model of `events` kept in `directory`: built there if it is not yet, else
    given the read models (versions) it lacks."""
    target = directory / f"asof-{events}.db"
    if target.exists():
        extend(QUICK, f"sqlite:///{target.resolve()}", events, say)
    else:
        directory.mkdir(parents=True, exist_ok=True)
        data = build(QUICK, events, say)
        shutil.move(data.url.split("///", 1)[-1], target)
        say(f"  asof: kept {target}")
    return f"sqlite:///{target.resolve()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(FULL.asof_sizes))
    parser.add_argument("--kept", action="append", default=[], metavar="EVENTS=PATH")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--mode", default=MODE, help="bench/results/<mode>.json")
    parser.add_argument("--only", nargs="*", default=[], help="roots whose name holds one of these")
    parser.add_argument(
        "--extend",
        action="store_true",
        help="first build into each kept read model the read models (versions) it lacks",
    )
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep each size's read model as DIR/asof-<events>.db: built the first time,"
        " reused (and extended) after",
    )
    args = parser.parse_args()
    kept = {}
    if args.keep:
        for events in args.sizes:
            kept[events] = keep(Path(args.keep), events)
    for spec in args.kept:
        events, _, path = spec.partition("=")
        kept[int(events)] = f"sqlite:///{Path(path).resolve()}"
        if args.extend:
            extend(QUICK, kept[int(events)], int(events), say)
    started = time.perf_counter()
    gc.freeze()  # the generated histories are long-lived: keep them out of the collector's way
    figures = run_sizes(QUICK, tuple(args.sizes), say, args.rounds, kept, tuple(args.only))
    body = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.perf_counter() - started, 1),
        "seed": QUICK.seed,
        "history_events": max(args.sizes),
        "machine": infra.machine(),
    }
    path = report.write_results(args.mode, body, figures)
    docs = report.write_docs()
    say(f"wrote {path.relative_to(report.ROOT)} and {docs.relative_to(report.ROOT)}")


if __name__ == "__main__":
    main()
