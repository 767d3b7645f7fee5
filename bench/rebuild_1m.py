"""`python -m bench.rebuild_1m`: only the full-size rebuild figure, SQLite, from 1M events.

The full run takes long; this measures just the issue's "1 million events in under 60 s on
SQLite" line (and its raw read+decode baseline) and writes bench/results/full-rebuild-sqlite.json.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench import infra, report
from bench.__main__ import say
from bench.config import FULL
from bench.context import BenchContext
from bench.figures import Figure
from bench.history.generator import generate
from bench.loader import load_history
from bench.suites.replay import raw_read_decode, rebuild_split

MODE = "full-rebuild-sqlite"


async def run() -> tuple[dict[str, Any], list[Figure]]:
    started = time.perf_counter()
    say(f"generating {FULL.history_events:,} events (seed {FULL.seed})")
    history = generate(FULL.seed, FULL.history_events)
    # Millions of long-lived objects: a full collection of them can block the event loop
    # for seconds (two 1M loads hit append timeouts; with the freeze the next one did not).
    # The history never changes after this: keep it out of the collector's sight.
    gc.collect()
    gc.freeze()
    with infra.nats_server() as server, infra.postgres() as pg:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            say("loading the history through EventStore.append")
            # A smaller window than the quick run's: 1M appends on a shared 2-core machine
            # otherwise risk request timeouts (the loader resends those, at a cost).
            loaded = await load_history(client, history, window=64)
            say(f"loaded {loaded.events:,} events in {loaded.seconds:.1f} s")
            ctx = BenchContext(FULL, server, client, svc, pg, history, loaded)
            raw_s = await raw_read_decode(client, loaded.last_seq)
            say(f"raw read+decode {raw_s:.1f} s")
            # The product's rebuild: two processes, joined (`audit projections rebuild`).
            split = await rebuild_split(ctx, f"sqlite:////tmp/bench-1m-{uuid.uuid4().hex[:8]}.db")
            seconds, parked = split.seconds, split.parked
            groups = ", ".join(f"{g.cpu_s:.0f} s CPU in {g.wall_s:.0f} s" for g in split.groups)
            say(f"rebuild {seconds:.1f} s ({groups}; join {split.join_s:.1f} s), {parked} parked")
    n = loaded.events
    figures = [
        Figure(
            "replay",
            f"rebuild all projections from {n:,} events, SQLite",
            "s",
            round(seconds, 1),
            "raw ordered-consumer read+decode of the same events",
            round(raw_s, 1),
            higher_is_better=False,
            target="< 60 s; rate >= 0.5x raw",
            target_met=seconds < 60 and seconds <= 2 * raw_s,
            note=f"{n / seconds:,.0f} events/s vs raw {n / raw_s:,.0f}/s; two processes"
            f" ({groups}; join {split.join_s:.1f} s)" + (f"; {parked} parked" if parked else ""),
        )
    ]
    body = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.perf_counter() - started, 1),
        "seed": FULL.seed,
        "history_events": history.event_count,
        "history_digest": history.digest(),
        "load": {"seconds": round(loaded.seconds, 2), "events_per_s": round(loaded.rate, 1)},
        "machine": infra.machine(),
    }
    return body, figures


def main() -> None:
    body, figures = asyncio.run(run())
    path = report.write_results(MODE, body, figures)
    docs = report.write_docs()
    say(f"wrote {path.relative_to(report.ROOT)} and {docs.relative_to(report.ROOT)}")


if __name__ == "__main__":
    main()
