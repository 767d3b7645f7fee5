"""Bulk OCDS export of the whole register (`audit ocds bulk`'s code path): releases/s and
events/s read, against a raw ordered-consumer read and decode of the same streams."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

from bench.context import BenchContext
from bench.figures import Figure
from bench.suites.replay import raw_read_decode


async def run(ctx: BenchContext) -> list[Figure]:
    from audit.bitemporal import horizon
    from audit.ocds.export import Register
    from audit.ocds.packages import OcdsSettings, Publication
    from audit.ocds_cli import BulkFormat, bulk_export
    from eventstore.clock import SystemClock
    from eventstore.store import EventStore

    n = ctx.loaded.events
    raw_s = await raw_read_decode(ctx.client, ctx.loaded.last_seq)
    how = Publication(OcdsSettings(), "https://ocds.example.org/bench")
    figures = []
    for validate in (False, True):
        started = time.perf_counter()
        register = await Register.read(
            EventStore(ctx.client, SystemClock()), horizon(now=datetime.now(UTC))
        )
        sink = io.StringIO()
        processes, releases, problems = bulk_export(register, sink, BulkFormat.jsonl, how, validate)
        seconds = time.perf_counter() - started
        label = "with schema validation" if validate else "without validation"
        figures.append(
            Figure(
                "ocds-export",
                f"bulk export, JSON Lines, {label}",
                "events/s",
                round(n / seconds, 1),
                "raw ordered-consumer read+decode",
                round(n / raw_s, 1),
                note=f"{releases:,} releases of {processes:,} processes in {seconds:.1f} s"
                f" ({releases / seconds:,.0f} releases/s, {len(sink.getvalue()) / 1e6:.1f} MB)"
                + (f"; {len(problems)} invalid" if problems else ""),
                extra={"releases_per_s": round(releases / seconds, 1), "processes": processes,
                       "releases": releases, "invalid": len(problems)},
            )
        )  # fmt: skip
    return figures
