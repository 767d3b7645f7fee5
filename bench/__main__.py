"""`python -m bench --quick|--full`: run every suite, write the JSON and the Markdown table."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench import infra, report
from bench.config import FULL, QUICK, Config
from bench.context import BenchContext
from bench.figures import Figure, not_measured
from bench.history.generator import generate
from bench.loader import SIGNERS, load_history, reader_trust
from bench.suites import (
    asof,
    commands,
    costs,
    freshness,
    graphql,
    ocds_export,
    ocds_import,
    peer,
    replay,
    scale,
)
from eventstore.trust import install

Suite = Callable[[BenchContext], Awaitable[list[Figure]]]

SUITES: list[tuple[str, Suite]] = [
    ("commands", lambda b: commands.run(b.client, b.service_nc, b.config, b.history)),
    ("replay", replay.run),
    ("graphql", graphql.run),
    ("costs", costs.run),
    ("freshness", freshness.run),
    ("scale", scale.run),
    ("peer", peer.run),
    ("asof", asof.run),
    ("ocds-export", ocds_export.run),
    ("ocds-import", ocds_import.run),
]


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def shown(f: Figure) -> str:
    """A figure's line in the run's output: a figure not measured says why (its note), not
    "None ms vs None" (asof22: `--only freshness` without `replay` has no read model)."""
    if f.value is None:
        return f"  {f.name}: not measured: {f.note or 'no reason given'}"
    return f"  {f.name}: {f.value} {f.unit} vs {f.baseline} ({f.baseline_name})"


async def run(config: Config, only: set[str] | None) -> dict[str, Any]:
    started = time.perf_counter()
    figures: list[Figure] = []
    say(f"{config.mode}: generating {config.history_events:,} events (seed {config.seed})")
    history = generate(config.seed, config.history_events)
    # Millions of long-lived objects: a full collection of them can block the event loop
    # for seconds (two 1M loads hit append timeouts; with the freeze the next one did not).
    # The history never changes after this: keep it out of the collector's sight.
    gc.collect()
    gc.freeze()
    with infra.nats_server() as server, infra.postgres() as pg:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            install(reader_trust(), client, svc)  # readers check signatures, as deployed
            say("loading the history through EventStore.append")
            loaded = await load_history(client, history, signers=SIGNERS)
            say(f"loaded {loaded.events:,} events in {loaded.seconds:.1f} s ({loaded.rate:,.0f}/s)")
            ctx = BenchContext(config, server, client, svc, pg, history, loaded)
            for name, suite in SUITES:
                if only and name not in only:
                    continue
                say(f"suite {name}")
                t = time.perf_counter()
                try:
                    got = await suite(ctx)
                except Exception as exc:
                    traceback.print_exc()
                    got = [
                        not_measured(name, "suite failed", "", "", f"{type(exc).__name__}: {exc}")
                    ]
                for f in got:
                    say(shown(f))
                say(f"suite {name} took {time.perf_counter() - t:.1f} s")
                figures += got
    return {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.perf_counter() - started, 1),
        "seed": config.seed,
        "history_events": history.event_count,
        "history_digest": history.digest(),
        "history_counts": history.counts_by_type(),
        "load": {"seconds": round(loaded.seconds, 2), "events_per_s": round(loaded.rate, 1)},
        "machine": infra.machine(),
        "figures": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a few minutes (the default)")
    mode.add_argument("--full", action="store_true", help="1 million events; takes long")
    parser.add_argument(
        "--only",
        action="append",
        choices=[name for name, _ in SUITES],  # a typo ran nothing after minutes of loading
        help="run only this suite (repeatable)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = FULL if args.full else QUICK
    body = asyncio.run(run(config, set(args.only) if args.only else None))
    figures = body.pop("figures")
    if args.only:  # a partial run never replaces the committed results
        path = report.write_results(f"{config.mode}.partial", body, figures)
        say(f"wrote {path.relative_to(report.ROOT)}")
        return
    path = report.write_results(config.mode, body, figures)
    docs = report.write_docs()
    say(f"wrote {path.relative_to(report.ROOT)} and {docs.relative_to(report.ROOT)}")


if __name__ == "__main__":
    main()
