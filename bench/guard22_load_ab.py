"""guard22: what the lost-messages guard costs an aggregate load and an append, A/B in one run.

`python -m bench.guard22_load_ab [aggregates] [pairs]`: a JetStream of its own, `aggregates`
aggregates of 3 events each on a stream this process writes on. Then, alternating pairs (ABBA):

- cold loads (a command on an aggregate not cached): A, the stream not watched (the load asks
  nothing more, as before guard22); B, watched (the stream's state asked beside the load's
  read). Sequential loads (the worst case: no request shared) and 32 at once.
- appends (the warm command path): A, the append's checks skipped (`Losses.due` answering
  False and no thresholds: the code before guard22 up to one attribute read); B, as shipped.

Prints per-operation microseconds (median of the pairs) and B/A. Loopback only, bounded.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import nats

from contracts_schema.subjects import BoundedContext
from eventstore.clock import SystemClock
from eventstore.losses import Losses
from eventstore.nats_launcher import NatsServer
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent
from eventstore.store import EventStore

CONTEXT = BoundedContext("guardab", "GUARDAB")


def _new(i: int) -> list[NewEvent]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [NewEvent("Noted", 1, {"n": i}, at)]


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


async def main(aggregates: int, pairs: int) -> None:
    server = NatsServer().start()
    try:
        nc = await nats.connect(server.url)
        store = EventStore(nc, SystemClock(), protect=False)
        await store.ensure_stream(CONTEXT)
        heads = []
        for a in range(aggregates):
            head = AggregateHistory(CONTEXT, "thing", f"t{a}", (), 0)
            for i in range(3):
                stored = await store.append(head, _new(i), CommandMetadata(f"c{a}-{i}", "b", "b"))
                head = AggregateHistory(CONTEXT, "thing", f"t{a}", tuple(stored), stored[-1].seq)
            heads.append(head)
        losses = store.losses

        async def loads(concurrent: bool) -> float:
            started = time.perf_counter()
            if concurrent:
                for i in range(0, aggregates, 32):
                    await asyncio.gather(
                        *(store.load(CONTEXT, "thing", f"t{a}") for a in range(i, i + 32))
                    )
            else:
                for a in range(aggregates):
                    await store.load(CONTEXT, "thing", f"t{a}")
            return (time.perf_counter() - started) / aggregates * 1e6

        counter = [0]

        async def appends(guarded: bool) -> float:
            original = Losses.due
            if not guarded:
                Losses.due = lambda self, stream: False  # type: ignore[method-assign]
            try:
                started = time.perf_counter()
                for a, head in enumerate(heads):
                    counter[0] += 1
                    meta = CommandMetadata(f"x{counter[0]}", "b", "b")
                    stored = await store.append(head, _new(counter[0]), meta)
                    heads[a] = AggregateHistory(
                        CONTEXT, "thing", head.aggregate_id, tuple(stored), stored[-1].seq
                    )
                return (time.perf_counter() - started) / aggregates * 1e6
            finally:
                Losses.due = original  # type: ignore[method-assign]

        rows: dict[str, list[tuple[float, float]]] = {}
        for pair in range(pairs):
            first_b = pair % 2 == 1  # ABBA: neither side always runs first
            for name, concurrent in (
                ("cold load, one at a time", False),
                ("cold load, 32 at once", True),
            ):
                timing: dict[bool, float] = {}
                for guarded in (first_b, not first_b):
                    if guarded:
                        losses.watch(CONTEXT.stream, CONTEXT.name)
                    else:
                        losses.watched.discard(CONTEXT.stream)
                    timing[guarded] = await loads(concurrent)
                rows.setdefault(name, []).append((timing[False], timing[True]))
            timed = {guarded: await appends(guarded) for guarded in (first_b, not first_b)}
            rows.setdefault("append (warm command)", []).append((timed[False], timed[True]))
        load = _loadavg()
        print(f"{aggregates} aggregates, {pairs} A/B pairs; load {load}")
        for name, measured in rows.items():
            off = statistics.median(x for x, _ in measured)
            on = statistics.median(y for _, y in measured)
            ratios = [y / x for x, y in measured]
            print(
                f"{name:28} A {off:8.1f} us  B {on:8.1f} us  B/A {on / off:5.3f}"
                f"  (pair ratios {min(ratios):.3f}..{max(ratios):.3f})"
            )
        await nc.close()
    finally:
        server.stop()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(*(args or [300, 7])))
