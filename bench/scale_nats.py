"""`python -m bench.scale_nats 20000 100000`: CPU per event of a NATS rebuild (SQLite) by size.

The replay suite's own rebuild (every gateway read model, catch-up from JetStream) on
histories of several lengths, with process CPU per event, and how often the catch-up read a
range of a stream and decoded an envelope (per event of the streams): a range re-read by a
runner that fell further behind than the kept ranges costs a read and a decode again.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import time
import uuid
from collections import Counter
from types import SimpleNamespace
from typing import Any

from nacl.signing import VerifyKey

from bench import infra
from bench.history.generator import generate
from bench.loader import SIGNERS, load_history, reader_trust
from bench.suites.replay import rebuild
from contracts_schema import upcasting
from eventstore import catchup, collector, trust, versioned
from eventstore.trust import install

COUNTS: Counter[str] = Counter()
GC: dict[str, float] = {"seconds": 0.0, "started": 0.0}


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    # CPU of the collecting thread (a collection runs in the thread that triggers it): wall
    # time would count the waits of a loaded machine as collection.
    if phase == "start":
        GC["started"] = time.thread_time()
    else:
        took = time.thread_time() - GC["started"]
        GC["seconds"] += took
        gen = info["generation"]
        COUNTS[f"gc gen{gen}"] += 1
        GC[f"gen{gen}_s"] = GC.get(f"gen{gen}_s", 0.0) + took
        GC[f"gen{gen}_max_s"] = max(GC.get(f"gen{gen}_max_s", 0.0), took)
        GC[f"gen{gen}_last_collected"] = info["collected"]


def _rss_mib() -> int:
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmRSS"))
    return int(line.split()[1]) // 1024


def _server_cpu(server: Any) -> float:
    pid = server._process.pid
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _instrument() -> None:
    read = catchup._StreamTap._read

    async def counted_read(self: Any, index: int, head: int) -> Any:
        COUNTS["range reads"] += 1
        return await read(self, index, head)

    catchup._StreamTap._read = counted_read  # type: ignore[method-assign]
    validate = trust.EventEnvelope.model_validate_json  # type: ignore[attr-defined]

    class Envelope:
        @staticmethod
        def model_validate_json(data: bytes) -> Any:
            COUNTS["envelope decodes"] += 1
            return validate(data)

    trust.EventEnvelope = Envelope  # type: ignore[attr-defined,assignment]
    decode = upcasting.decode_envelope

    def counted_decode(envelope: Any) -> Any:
        COUNTS["typed decodes"] += 1
        return decode(envelope)

    versioned.decode_envelope = counted_decode  # type: ignore[attr-defined,assignment]
    verify = VerifyKey.verify

    def counted_verify(self: VerifyKey, *args: Any, **kwargs: Any) -> Any:
        COUNTS["signature verifies"] += 1
        return verify(self, *args, **kwargs)

    VerifyKey.verify = counted_verify  # type: ignore[method-assign]


async def measure(events: int, seed: int, signed: bool = False) -> dict[str, Any]:
    # The rebuild's modules are imported before its CPU is measured: with
    # PYTHONDONTWRITEBYTECODE every import compiles its source (~1 s of CPU, 50-60 us/event
    # of a 20k rebuild in the figures before round four).
    import bootstrap.parts  # noqa: F401

    history = generate(seed, events)
    gc.collect()
    gc.freeze()
    with infra.nats_server() as server:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            if signed:  # as `python -m bench` loads and reads it: signed, readers checking
                install(reader_trust(), client, svc)
            loaded = await load_history(client, history, signers=SIGNERS if signed else None)
            ctx: Any = SimpleNamespace(service_nc=svc, loaded=loaded)
            COUNTS.clear()
            GC.clear()
            GC.update(seconds=0.0, started=0.0)
            gc.callbacks.append(_gc_timer)
            server_cpu = _server_cpu(server)
            cpu = time.process_time()
            seconds, parked = await rebuild(
                ctx, f"sqlite:////tmp/scale/nats-{events}-{uuid.uuid4().hex[:8]}.db"
            )
            cpu = time.process_time() - cpu
            server_cpu = _server_cpu(server) - server_cpu
            gc.callbacks.remove(_gc_timer)
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    garbage = gc.collect()  # cycles that died frozen (and any other garbage left)
    n = loaded.events
    return {
        "events": n,
        "wall_s": round(seconds, 1),
        "cpu_s": round(cpu, 1),
        "cpu_us_per_event": round(cpu / n * 1e6, 1),
        "server_cpu_s": round(server_cpu, 1),
        "gc_s": round(GC["seconds"], 2),
        "gc": {k: round(v, 2) for k, v in GC.items() if k.startswith("gen")},
        "rss_mib": _rss_mib(),
        "frozen_objects": frozen,
        "garbage_after_unfreeze": garbage,
        "parked": parked,
        **{f"{k} per event": round(v / n, 2) for k, v in COUNTS.items() if "gc" not in k},
        **{k: v for k, v in COUNTS.items() if "gc" in k},
        "range reads": COUNTS["range reads"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-lead", action="store_true", help="runners never wait (before)")
    parser.add_argument(
        "--no-freeze", action="store_true", help="survivors of the catch-up not frozen (before)"
    )
    parser.add_argument("--freeze-middle", action="store_true", help="freeze as at first")
    parser.add_argument(
        "--signed", action="store_true", help="a signed history, readers checking signatures"
    )
    args = parser.parse_args()
    if args.freeze_middle:
        collector.FREEZE_AFTER = 1  # only survivors of middle collections frozen (earlier)
    if args.no_freeze:
        collector.FREEZE_FROM = 1 << 62  # the collector as before: nothing frozen
    if args.no_lead:
        catchup._StreamTap.LEAD = 1 << 30  # the drift as before: no runner waits for another
    _instrument()
    for size in args.sizes:
        print(json.dumps(asyncio.run(measure(size, args.seed, args.signed))), flush=True)


if __name__ == "__main__":
    main()
