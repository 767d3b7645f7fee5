"""`python -m bench.asof_pragma_ab DB:EVENTS ...`: the gateway's SQLite page cache and memory
map, A/B in one process (asof24e).

For each read model (kept by `bench.asof_1m --keep`), the as-of suite's roots (`--only`) are
asked of two gateways over the same file in the same process, in alternating rounds (the order
reversed every other round): A with the connections' default memory (SQLite's 2 MiB page
cache, no memory map), B with `--cache-mib` / `--mmap-mib` (`eventstore.settings.
SqliteSettings`). `--concurrency` requests are kept in flight (the suite's wrk keeps 4), so
the pool's connections and the executor's threads are used as a served gateway uses them.
Each round: the process CPU and the wall latency of each request; the answers of A and B are
compared (equal, or the run stops). Printed per (root, size, side, A/B): p50, p99, CPU per
request and B/A.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx

from bench.asof_stored_ab import _percentile
from bench.gateway_app import coordinator_token, settings
from bench.suites.asof import EVENTS_KNOWN, _middle, describe, roots
from eventstore.settings import SqliteSettings
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.readmodels import ReadModels

SECRET = "asof-pragma-ab-" + "0" * 32


async def _round(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], n: int, c: int
) -> tuple[list[float], float, Any]:
    """`n` requests, `c` in flight: their wall latencies (ms), the process CPU per request
    (µs) and the first answer."""
    times: list[float] = []
    first: list[Any] = []
    left = [n]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            t = time.perf_counter()
            answer = (await client.post("/graphql", json=body, headers=headers)).json()
            times.append((time.perf_counter() - t) * 1000)
            if not first:
                first.append(answer)

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(c)))
    return times, (time.process_time() - cpu) * 1e6 / n, first[0]


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = []
    memory = {
        "A": SqliteSettings(sqlite_cache_mib=2, sqlite_mmap_mib=0),
        "B": SqliteSettings(sqlite_cache_mib=args.cache_mib, sqlite_mmap_mib=args.mmap_mib),
    }
    token = coordinator_token(SECRET)
    headers = {"authorization": f"Bearer {token}"}
    for spec in args.databases:
        path, _, events = spec.partition(":")
        data = describe(f"sqlite:///{path}", int(events or 0))
        middle = _middle(data.url)
        engines = {side: make_engine(data.url, sqlite_memory=memory[side]) for side in "AB"}
        apps = {
            side: build_app(ReadModels(engines[side]), settings(data.url, SECRET)) for side in "AB"
        }
        clients = {
            side: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=apps[side]), base_url="http://gateway.test"
            )
            for side in "AB"
        }
        try:
            for name, (query, variables, as_of) in roots(data, middle).items():
                if args.only and not any(o in name for o in args.only):
                    continue
                for when in ("past", "present"):
                    asked = dict(variables)
                    if when == "past":
                        asked["asOf"] = as_of
                        if query is EVENTS_KNOWN:
                            asked["knownAt"] = f"{as_of}T23:59:59+00:00"
                    body = {"query": query, "variables": asked}
                    samples: dict[str, list[float]] = {"A": [], "B": []}
                    cpus: dict[str, list[float]] = {"A": [], "B": []}
                    answers = {}
                    for side in "AB":  # warm: the planner's statistics, the caches
                        await _round(
                            clients[side], body, headers, args.requests // 4, args.concurrency
                        )
                    for r in range(args.rounds):
                        for side in "AB" if r % 2 == 0 else "BA":
                            times, cpu, answer = await _round(
                                clients[side], body, headers, args.requests, args.concurrency
                            )
                            samples[side] += times
                            cpus[side].append(cpu)
                            answers[side] = answer
                    if json.dumps(answers["A"], sort_keys=True) != json.dumps(
                        answers["B"], sort_keys=True
                    ):
                        raise RuntimeError(f"{name} {when}: A and B answered differently")
                    row = {"events": data.events, "root": name, "side": when}
                    for side in "AB":
                        row[side] = {
                            "p50": _percentile(samples[side], 0.5),
                            "p99": _percentile(samples[side], 0.99),
                            "cpu_us": statistics.median(cpus[side]),
                            "cpu_rounds": cpus[side],
                        }
                    out.append(row)
                    a, b = row["A"], row["B"]
                    print(
                        f"{data.events:>9,} {when:<7} {name[:50]:<50} p50 {a['p50']:6.2f} -> {b['p50']:6.2f}"
                        f" ({b['p50'] / a['p50']:.2f}x) p99 {a['p99']:6.2f} -> {b['p99']:6.2f}"
                        f" ({b['p99'] / a['p99']:.2f}x) CPU {a['cpu_us']:6.0f} -> {b['cpu_us']:6.0f} us"
                        f" ({b['cpu_us'] / a['cpu_us']:.2f}x)",
                        flush=True,
                    )
        finally:
            for side in "AB":
                await clients[side].aclose()
                engines[side].dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("databases", nargs="+", help="DB:EVENTS, kept read models")
    parser.add_argument("--only", action="append", default=[], help="roots whose name holds this")
    parser.add_argument("--cache-mib", type=int, default=2)
    parser.add_argument("--mmap-mib", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    rows = asyncio.run(_run(args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
