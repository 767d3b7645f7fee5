"""The import's timeline against one registry process (helper import11): where the wall
clock goes that no process spends CPU in.

Runs the bench suite's import (`bench.suites.ocds_import.package`, fresh ocids each round)
against `python -m bootstrap.serve registry` on a server of its own, `--rounds` times in the
same registry process (the first round warms it), and prints per round: wall seconds,
events/s, CPU per event of the importer, the registry and the server, and each group
message's send and answer times relative to the start (when the registry was idle).

    .venv/bin/python -m bench.import_timeline --processes 200 --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import time
from types import SimpleNamespace
from typing import Any

from bench.gc_window import GcWindow
from bench.infra import connected, nats_server
from bench.suites.ocds_import import _server_cpu, package, registry_process


async def main(processes: int, rounds: int, verbose: bool, collector: str = "cli") -> None:
    from audit.ocds.importer import import_items, prepare
    from audit.ocds.importer_read import read
    from eventstore.clock import SystemClock
    from eventstore.serving import request_reply
    from eventstore.store import EventStore

    prepare()  # (as the CLI and the bench suite do before the import)
    if collector == "cli":  # as `audit ocds import` runs (import14)
        from audit.ocds.importer import collector_for_import

        # For the rest of this process; the manager kept: collected, it would restore the
        # default thresholds at once (its generator closed), as import14's timeline did.
        kept = collector_for_import()
        kept.__enter__()
    with nats_server() as server:
        async with connected(server.url) as nc:
            ctx: Any = SimpleNamespace(nats=server, client=nc)
            store = EventStore(nc, SystemClock())
            async with registry_process(ctx, 1) as cpu_seconds:
                for r in range(rounds):
                    data = package(processes, f"ocds-tl{r:02d}x")
                    sent: list[tuple[float, float, int]] = []
                    started = time.perf_counter()

                    async def request(
                        subject: str,
                        payload: bytes,
                        sent: list[tuple[float, float, int]] = sent,
                        started: float = started,
                    ) -> bytes:
                        at = time.perf_counter() - started
                        reply = await request_reply(nc, subject, payload, timeout=120)
                        sent.append((at, time.perf_counter() - started, len(payload)))
                        return reply

                    reg0, imp0, srv0 = cpu_seconds()[0], time.process_time(), _server_cpu(ctx)
                    with GcWindow() as gcs:
                        report = await import_items(list(read(data, "bench")), request, store)
                    wall = time.perf_counter() - started
                    reg = cpu_seconds()[0] - reg0
                    imp = time.process_time() - imp0
                    srv = _server_cpu(ctx) - srv0
                    n = report.events or 1
                    print(
                        f"round {r}: {wall:.3f} s, {report.events / wall:,.0f} events/s"
                        f" ({report.imported} releases, {len(report.skipped)} skipped);"
                        f" CPU ms/event importer {1000 * imp / n:.3f}, registry"
                        f" {1000 * reg / n:.3f}, server {1000 * srv / n:.3f};"
                        f" registry busy {reg / wall:.0%}, importer {imp / wall:.0%};"
                        f" importer collections {gcs.collections}, {sum(gcs.seconds):.3f} s",
                        flush=True,
                    )
                    if verbose:
                        for a, b, size in sorted(sent):
                            print(f"   sent {a:.3f} answered {b:.3f} ({b - a:.3f}) {size:,} B")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("-v", action="store_true")
    # cli: the collector as `audit ocds import` sets it; default: CPython's own thresholds
    parser.add_argument("--collector", choices=("cli", "default"), default="cli")
    args = parser.parse_args()
    asyncio.run(main(args.processes, args.rounds, args.v, args.collector))
