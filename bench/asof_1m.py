"""`python -m bench.asof_1m` (`make bench-asof-1m`): as-of latency at 10k, 100k and 1M events.

The 1M read model takes minutes to build, too long for `make bench` (which measures 10k and
100k): this run measures all three sizes, each beside its present query, and writes
bench/results/full-asof.json. The read models are built directly through the projections'
own batch path (see `bench.suites.asof`), not read back through NATS.
"""

from __future__ import annotations

import gc
import time
from datetime import UTC, datetime

from bench import infra, report
from bench.__main__ import say
from bench.config import FULL, QUICK
from bench.suites.asof import run_sizes

MODE = "full-asof"


def main() -> None:
    started = time.perf_counter()
    gc.freeze()  # the generated histories are long-lived: keep them out of the collector's way
    figures = run_sizes(QUICK, FULL.asof_sizes, say)
    body = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.perf_counter() - started, 1),
        "seed": QUICK.seed,
        "history_events": max(FULL.asof_sizes),
        "machine": infra.machine(),
    }
    path = report.write_results(MODE, body, figures)
    docs = report.write_docs()
    say(f"wrote {path.relative_to(report.ROOT)} and {docs.relative_to(report.ROOT)}")


if __name__ == "__main__":
    main()
