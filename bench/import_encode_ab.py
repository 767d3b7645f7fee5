"""The group commit's staging and append, A/B in one process (helper import36): the CPU per
event of sealing, staging and publishing an import's events, A the code of a git revision
(`--base`, loaded from git beside this checkout's), B this checkout's, in alternating blocks
against one JetStream of its own. Only this thread's CPU is counted (`time.thread_time`: the
wait for the server's acknowledgement is not), so the machine's load moves both sides alike.

    .venv/bin/python -m bench.import_encode_ab --base d3eea6ee --blocks 20

Each block stages `--processes` processes of 5 commands (a tender of 4 events, four
contracts of 2; payloads of the import's size and shape) on a `StagedStore` each, sealed by
the bulk sealer (unsigned, as the bench's registry runs; `--signed`: with a key), and
appends them in atomic groups of at most 1,000 events; the stored events are read once per
process, as the registry's group commit reads them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.infra import connected, nats_server

ROOT = Path(__file__).resolve().parent.parent


def load_revision(name: str, path: str, revision: str) -> types.ModuleType:
    """A module's source at `revision`, loaded under `name` (beside this checkout's)."""
    src = subprocess.check_output(["git", "-C", str(ROOT), "show", f"{revision}:{path}"])
    module = types.ModuleType(name)
    module.__file__ = f"<{name}@{revision}>"
    sys.modules[name] = module
    exec(compile(src, module.__file__, "exec"), module.__dict__)
    return module


def _payload(n: int, kind: str) -> dict[str, Any]:
    return {
        f"{kind}_id": f"ocds-enc-{n:06d}",
        "title": f"Opdracht {n} \u2013 onderhoud",
        "buyer": {"id": f"NL-KVK-{10_000_000 + n % 50}", "name": f"Gemeente {n % 50}"},
        "suppliers": [f"NL-KVK-{20_000_000 + n % 400}"],
        "value_eur": f"{100_000 + n}.00",
        "start_on": "2020-04-05",
        "end_on": "2022-06-23",
        "findings": [
            {"code": "STANDSTILL_SHORT", "message": "standstill of 12 days", "subject": None}
        ],
        "ocid": f"ocds-enc-{n:06d}",
        "release_id": f"{n}-3",
        "release_date": "2020-03-11T09:00:00Z",
        "publisher": "bench",
        "package_uri": "https://ocds.example.org/bench.json",
    }


async def _block(variant: tuple[Any, Any], nc: Any, clock: Any, signer: Any, processes: int,
                 prefix: str) -> tuple[float, int]:  # fmt: skip
    """One block: thread CPU seconds and events."""
    from contracts_schema.subjects import REGISTRY
    from eventstore.records import CommandMetadata, NewEvent

    ga, bs = variant
    occurred = datetime(2020, 3, 11, 9, tzinfo=UTC)

    def sealer(history: Any, news: Any, meta: Any) -> Any:
        return bs.seal_trusted(clock, history, news, meta, signer)

    cpu = 0.0
    count = 0
    pending: list[tuple[Any, list[Any]]] = []

    async def commit() -> None:
        nonlocal cpu
        events = [e for _, es in pending for e in es]
        started = time.thread_time()
        stored = await ga.publish_group(nc, events)
        offset = 0
        for _, es in pending:
            _first = stored[offset].seq
            offset += len(es)
        cpu += time.thread_time() - started
        pending.clear()

    for p in range(processes):
        started = time.thread_time()
        aggregates = [("tender", f"{prefix}-{p}"), *(("contract", f"{prefix}-{p}-c{c}")
                                                   for c in range(4))]  # fmt: skip
        new = frozenset((REGISTRY.stream, t, i) for t, i in aggregates)
        store = ga.StagedStore(_Base(), new, sealer)
        for n, (kind, aid) in enumerate(aggregates):
            history = await store.load(REGISTRY, kind, aid)
            facts = 4 if kind == "tender" else 2
            news = [NewEvent(f"{kind.title()}Fact", 1, _payload(p * 10 + n + k, kind),
                             occurred + timedelta(days=k)) for k in range(facts)]  # fmt: skip
            meta = CommandMetadata(f"cmd-{prefix}-{p}-{n}", "import:bench", "corr", "cause")
            await store.append(history, news, meta, headers={"traceparent": "00-" + "a" * 32})
        events = store.events()
        cpu += time.thread_time() - started
        count += len(events)
        if sum(len(es) for _, es in pending) + len(events) > 1000:
            await commit()
        pending.append((store, events))
    if pending:
        await commit()
    return cpu, count


class _Base:
    """A base store the staged one never reads (every aggregate is known new)."""

    async def load(self, *_args: Any) -> Any:
        raise AssertionError("not read")


async def main(base: str, blocks: int, processes: int, signed: bool = False) -> None:
    from contracts_schema.subjects import REGISTRY
    from eventstore import bulk_seal, group_append
    from eventstore.clock import SystemClock
    from eventstore.signing import EventSigner, new_seed
    from eventstore.store import EventStore

    old_bs = load_revision("_a_bulk_seal", "eventstore/src/eventstore/bulk_seal.py", base)
    old_ga = load_revision("_a_group_append", "eventstore/src/eventstore/group_append.py", base)
    variants = {"A": (old_ga, old_bs), "B": (group_append, bulk_seal)}
    # Unsigned by default, as the bench suite's registry runs (GT_SIGNING_SEED unset).
    clock, signer = SystemClock(), EventSigner(new_seed()) if signed else None
    figures: dict[str, list[float]] = {"A": [], "B": []}
    pairs: list[float] = []
    with nats_server() as server:
        async with connected(server.url) as nc:
            await EventStore(nc, clock).ensure_stream(REGISTRY)
            await _block(variants["A"], nc, clock, signer, processes, "warm-a")
            await _block(variants["B"], nc, clock, signer, processes, "warm-b")
            for b in range(blocks):
                order = ("A", "B") if b % 2 else ("B", "A")
                got = {}
                for v in order:
                    cpu, count = await _block(variants[v], nc, clock, signer, processes,
                                              f"blk{b}{v}")  # fmt: skip
                    got[v] = 1e6 * cpu / count
                    figures[v].append(got[v])
                pairs.append(got["B"] / got["A"])
                print(f"block {b}: A {got['A']:.2f}, B {got['B']:.2f} us/event,"
                      f" B/A {pairs[-1]:.3f}", flush=True)  # fmt: skip
    lower = sum(1 for r in pairs if r < 1)
    print(
        f"A ({base}) median {statistics.median(figures['A']):.2f} us/event, B (this checkout)"
        f" {statistics.median(figures['B']):.2f}; B/A per pair median"
        f" {statistics.median(pairs):.3f}x (B lower in {lower} of {len(pairs)})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="d3eea6ee")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--signed", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.base, args.blocks, args.processes, args.signed))
