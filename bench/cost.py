"""`python -m bench.cost`: what one command costs in CPU, and where it goes (cProfile).

The bench route (bench/workload.py) served in this process as the containers serve it
(`CommandServer`, `bootstrap.parts.command_service`, on the service processes' event loop,
uvloop, its collector tuned; `LOOP=asyncio` for asyncio's own, `GC=default` for the default
collector), on a NATS server of its own, one command at a
time on a warm aggregate (`CONCURRENCY=64`: 64 senders at once, each on its own). CPU is
this process's (client and service both: the
client's share is one request and one JSON parse); the broker runs in its own process.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import infra
from bench.history.generator import generate
from bench.history.model import History
from bench.loader import SIGNERS, load_history, reader_trust
from bench.suites.commands import registry_amendment, running_contracts
from bench.workload import BENCH, COMMANDS, AmendContract
from bootstrap.parts import command_service, registry_service
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.collector import freeze_start_up, tune_for_serving
from eventstore.service_app import event_loop_factory, serve_in_process
from eventstore.serving import send_command
from eventstore.store import EventStore
from eventstore.trust import install

COMMANDS_MEASURED = 2_000
# Own time in the profile, grouped by where the code lives (first match wins).
GROUPS = (
    # On uvloop a write is sent inside the transport's `writelines` (C), so that counts.
    ("socket writes", ("'send' of '_socket.socket'", "(writelines)")),
    ("waiting for the socket (epoll)", ("'poll' of 'select.epoll'",)),
    (
        "event loop",
        ("asyncio/", "selectors.py", "uvloop", "_contextvars", "'set_result'", "'cancel'"),
    ),
    ("nats-py", ("/nats/",)),
    ("pydantic", ("pydantic",)),
    ("OpenTelemetry", ("opentelemetry",)),
    ("json and hashing", ("json/", "'sha256'", "hexdigest", "hashing.py")),
    ("our command path", ("/eventstore/", "/bench/", "/contracts_schema/")),
)


async def _in_turn(amend: Callable[[int], Awaitable[None]], numbers: range) -> None:
    for i in numbers:
        await amend(i)


async def measure(n: int, concurrency: int = 1) -> tuple[float, float, str]:
    with infra.nats_server() as server:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            clock = SystemClock()
            contracts: list[tuple[str, datetime]] = []
            registry = os.environ.get("ROUTE") == "registry"
            if registry:
                install(reader_trust(), client, svc)  # readers check signatures, as deployed
                history = generate(2026, int(os.environ.get("HISTORY", "20000")))
                # Only the contracts' commits: all an amendment's decision reads.
                contract_commits = [c for c in history.commits if c.aggregate_type == "contract"]
                await load_history(
                    client, History(history.seed, tuple(contract_commits)), signers=SIGNERS
                )
                contracts = running_contracts(history)
                store = EventStore(svc, clock, signers=SIGNERS)
                service = registry_service(store, clock)
            else:
                service = command_service(COMMANDS, EventStore(svc, clock), clock)
            broker = await serve_in_process(svc, [service])
            if os.environ.get("GC") != "default":  # as a service process (`run_app`)
                tune_for_serving()
                freeze_start_up()
            try:

                async def amend(i: int) -> None:
                    if registry:  # each sender on its own contracts, as in the suite
                        reg = registry_amendment(contracts, concurrency, i % concurrency, i)
                        reg = reg.model_copy(update={"command_id": f"cost-{i}"})
                        reply = await send_command(client, REGISTRY, reg, actor="bench")
                        assert reply.status == "accepted", reply
                        return
                    command = AmendContract(
                        command_id=f"cost-{i}",
                        contract_id=f"cost-{i % concurrency}",
                        summary="indexation",
                        amended_on=date(2020, 1, 1) + timedelta(days=i),
                    )
                    reply = await send_command(client, BENCH, command, actor="bench")
                    assert reply.status == "accepted", reply

                async def amend_all(start: int, stop: int) -> None:
                    if concurrency == 1:
                        for i in range(start, stop):
                            await amend(i)
                        return
                    # `concurrency` senders, each on its own aggregates
                    await asyncio.gather(
                        *(
                            _in_turn(amend, range(start + w, stop, concurrency))
                            for w in range(concurrency)
                        )
                    )

                warm = 50 * concurrency  # warm: the aggregates cached, the connections busy
                if registry:  # every contract taken once
                    warm = max(warm, len(contracts) + concurrency)
                await amend_all(0, warm)
                cpu, wall = time.process_time(), time.perf_counter()
                await amend_all(warm, warm + n)
                per_command = (time.process_time() - cpu) / n * 1e6
                wall_per_command = (time.perf_counter() - wall) / n * 1e6
                # A second round, under the profiler: by wall time (a socket write then also
                # holds the broker's turn when the write wakes it on a busy machine), or by this
                # process's CPU time with PROFILE_CLOCK=cpu.
                profile = (
                    cProfile.Profile(time.process_time)
                    if os.environ.get("PROFILE_CLOCK") == "cpu"
                    else cProfile.Profile()
                )
                profile.enable()
                await amend_all(warm + n, warm + 2 * n)
                profile.disable()
                if os.environ.get("PROFILE_OUT"):  # the whole profile, for pstats
                    profile.dump_stats(os.environ["PROFILE_OUT"])
            finally:
                await broker.stop()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats(os.environ.get("SORT", "tottime")).print_stats(int(os.environ.get("TOP", "5")))
    out.write(breakdown(stats, n))
    return per_command, wall_per_command, out.getvalue()


def breakdown(stats: pstats.Stats, n: int) -> str:
    """Own time per command by group, and the counts that do not depend on the machine's load:
    socket writes (flushes) and event-loop turns per command (asyncio's loop only: uvloop's
    turns are not Python calls)."""
    own: dict[str, float] = {}
    calls: dict[str, int] = {}
    total = 0.0
    for (filename, line, name), (_cc, ncalls, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{filename}:{line}({name})"
        group = next((g for g, marks in GROUPS if any(m in where for m in marks)), "other")
        own[group] = own.get(group, 0.0) + tottime
        total += tottime
        if filename.endswith("asyncio/streams.py") and name == "writelines":  # one per flush
            calls["socket writes"] = calls.get("socket writes", 0) + ncalls
        if where.endswith("(_run_once)"):
            calls["event-loop turns"] = calls.get("event-loop turns", 0) + ncalls
    lines = [f"profiled own time per command, by group (total {total / n * 1e6:,.0f} us):"]
    for group, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {group:32} {seconds / n * 1e6:8,.0f} us  {seconds / total:5.1%}")
    # Not load-dependent: the Python calls (a proxy for the interpreter's work) per command.
    calls["Python function calls"] = sum(v[1] for v in stats.stats.values())  # type: ignore[attr-defined]
    for what, count in calls.items():
        lines.append(f"{what} per command: {count / n:.1f}")
    return "\n".join(lines) + "\n"


ROOT = str(Path(__file__).resolve().parent.parent)
TOP = 5


def where(filename: str, line: int, name: str) -> str:
    """A profile entry's function, its path short: from the package on (`eventstore/store.py`,
    `nats/aio/client.py`), a built-in as cProfile names it."""
    if filename == "~":
        return name
    for mark in ("/site-packages/", "/src/", "/lib/python3"):
        if mark in filename:
            filename = filename.rsplit(mark, 1)[1]
            if mark == "/lib/python3":  # the standard library: drop the version's rest
                filename = filename.split("/", 1)[1] if "/" in filename else filename
            break
    else:
        if filename.startswith(ROOT + "/"):
            filename = filename[len(ROOT) + 1 :]
    return f"{filename}:{line}({name})"


def own_code(filename: str) -> bool:
    """The project's own code (the workspace's packages), not a library, the standard one or
    the bench driving it."""
    return (
        filename.startswith(ROOT + "/")
        and "/.venv/" not in filename
        and "/site-packages/" not in filename
        and not filename.startswith(ROOT + "/bench/")
    )


PASSES_ON = 0.9  # a function that hands this share of its cumulative time to one callee


def top_entries(stats: pstats.Stats, items: int, top: int = TOP) -> dict[str, Any]:
    """What a profile says per item (a command, a request), for the results: the profiled time
    per item, the `top` functions by own time (any code), and the `top` of the project's own
    code by cumulative time (what its calls beneath it cost: where own time is spread over
    libraries, this says which of our steps they serve). A function of ours that hands
    `PASSES_ON` or more of its cumulative time to one callee of ours (a wrapper: the command's
    envelope, its observation) is left out of that list for that callee. Times in us per item
    as profiled (the profiler's own cost included: read them as shares), calls per item (a
    coroutine's every resumption counts as a call)."""
    rows = []
    total = 0.0
    passed: dict[tuple[str, int, str], float] = {}  # a function's largest call to one of ours
    for key, (_cc, ncalls, tottime, cumtime, callers) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        rows.append((*key, ncalls, tottime, cumtime))
        if own_code(key[0]):
            for caller, edge in callers.items():
                passed[caller] = max(passed.get(caller, 0.0), edge[3])

    def entry(row: tuple[str, int, str, int, float, float]) -> dict[str, Any]:
        filename, line, name, ncalls, tottime, cumtime = row
        return {
            "function": where(filename, line, name),
            "calls": round(ncalls / items, 2),
            "own_us": round(tottime / items * 1e6, 1),
            "cumulative_us": round(cumtime / items * 1e6, 1),
            "own_share": round(tottime / total, 4) if total else 0.0,
            "cumulative_share": round(cumtime / total, 4) if total else 0.0,
        }

    by_own = sorted(rows, key=lambda r: (-r[4], r[0], r[1], r[2]))[:top]
    ours = [
        r for r in rows if own_code(r[0]) and passed.get((r[0], r[1], r[2]), 0.0) < PASSES_ON * r[5]
    ]
    by_cumulative = sorted(ours, key=lambda r: (-r[5], r[0], r[1], r[2]))[:top]
    return {
        "items": items,
        "profiled_us": round(total / items * 1e6, 1),
        "calls": round(sum(r[3] for r in rows) / items, 1),
        "own": [entry(r) for r in by_own],
        "cumulative": [entry(r) for r in by_cumulative],
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else COMMANDS_MEASURED
    # CONCURRENCY=64: that many senders at once, each on its own aggregate (the suite's c 64)
    concurrency = int(os.environ.get("CONCURRENCY", "1"))
    # The service processes' event loop (uvloop; LOOP=asyncio for asyncio's own).
    factory = None if os.environ.get("LOOP") == "asyncio" else event_loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        print(f"event loop: {type(runner.get_loop()).__module__}")
        per_command, wall, top = runner.run(measure(n, concurrency))
    print(f"CPU per command (client and service, this process): {per_command:,.0f} µs")
    print(f"wall time per command, {concurrency} at a time: {wall:,.0f} µs")
    print(top)


if __name__ == "__main__":
    main()
