"""`python -m bench.asof_stored_ab DB:EVENTS ...`: asof20's stored counts A/B, in process.

For each read model (built by `bench.suites.asof.build`, then given the new versions by
`bench.suites.asof.extend`: the file holds contracts v6 and v7, enrolment v4 and v5), the
roots whose counts asof20 stores are asked of two gateways over the same file in the same
process, in alternating rounds (the order reversed every other round):

- A: the previous versions' tables (contracts v6, enrolment v4), which have no stored counts:
  the gateway counts their rows exactly as main's code does (an older version serving while
  a newer one rebuilds takes the same path);
- B: this branch's (contracts v7, enrolment v5): the stored counts.

Each sample is one request through the app (httpx's ASGI transport, one at a time): its
wall latency and the process's CPU. The answers of A and B are compared (equal, or the
run stops). Printed per (root, size, side, A/B): p50 and p99 latency, CPU per request, and
B/A ratios; `--json` keeps them.

`--round asof21`: the organisation's events instead (`events(asOf, filter:
{organisationCode})`), A the event log v2 (its links without instants: main's SQL), B v3
(the links in the log's order per code and the per-code counts); the file given the v3 event
log by `bench.suites.asof.extend`.

`--round asof24e`: `events(asOf, knownAt)` and `events(asOf)`, A the event counts v2 (the
tree's cells weeks: the edge strips a week's events each), B v3 (days); the file given the
event counts v3 by `bench.suites.asof.extend`.

`--round asof22`: the supplier's page (`contracts(asOf, filter: {supplierId})`), A contracts
v8 (the supplier's versions as an IN list, the page sorted by the contracts' key: main's
SQL), B v9 (the supplier rows joined in their own `(supplier_id, contract_id, intervals)`
index's order); the file given contracts v9 by `bench.suites.asof.extend`. Each side's
statements for one request are also run on a plain sqlite3 connection with a progress
handler: SQLite's virtual-machine steps per request, printed beside the CPU (`steps`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import MetaData, event

from bench.gateway_app import coordinator_token, settings
from bench.suites.asof import (
    CONTRACTS,
    EVENTS,
    EVENTS_KNOWN,
    LIST,
    PARTICIPATION,
    _middle,
    describe,
)
from eventstore.projection import Projection
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.projections import (
    ContractsProjection,
    EnrolmentProjection,
    EventCountsProjection,
    EventLogProjection,
    TendersProjection,
)
from gateway.readmodels import ReadModels

SECRET = "asof-stored-ab-" + "0" * 32
# main's versions, per round
BEFORE: dict[str, dict[type[Projection], int]] = {
    "asof20": {ContractsProjection: 6, EnrolmentProjection: 4},
    "asof21": {EventLogProjection: 2},
    "asof22": {ContractsProjection: 8},
    "asof23": {TendersProjection: 6},
    "asof24e": {EventCountsProjection: 2},
}


def _older(read: ReadModels, round_: str) -> ReadModels:
    """`read` serving main's versions of the read models (as while a rebuild runs)."""
    for kind, version in BEFORE[round_].items():
        projection = kind()
        projection.version = version  # type: ignore[misc]
        projection.define(MetaData())
        read._fallback[(kind, None)] = projection  # what `_current` keeps for a version
    return read


def _same(answer: Any) -> Any:
    """An answer as compared: without event ids (`extend` generates the history again, and
    the generator's event ids are random; everything else is the same)."""
    if isinstance(answer, dict):
        return {k: _same(v) for k, v in answer.items() if k != "eventId"}
    if isinstance(answer, list):
        return [_same(v) for v in answer]
    return answer


def _vm_steps(url: str, statements: list[tuple[str, Any]]) -> int:
    """SQLite's virtual-machine steps for these statements (SELECTs), on a plain connection:
    deterministic, where the wall and CPU figures are the shared machine's minute."""
    total = 0

    def tick() -> int:
        nonlocal total
        total += 1
        return 0

    with sqlite3.connect(url.split("///", 1)[-1]) as conn:
        conn.set_progress_handler(tick, 1)
        for sql, parameters in statements:
            if sql.lstrip().upper().startswith(("SELECT", "WITH")):
                conn.execute(sql, parameters).fetchall()
        conn.set_progress_handler(None, 0)
    return total


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _run(
    url: str, events: int, rounds: int, requests: int, round_: str = "asof20"
) -> list[dict[str, Any]]:
    data = describe(url, events)
    middle = _middle(url)
    roots: dict[str, tuple[str, dict[str, Any]]] = {
        "contracts(asOf, filter: supplierId) totalCount + 20": (
            CONTRACTS,
            {"filter": {"supplierId": data.supplier}},
        ),
        "statistics.participation": (PARTICIPATION, {}),
    }
    if round_ == "asof21":
        roots = {
            "events(asOf, filter: organisationCode) totalCount + 20": (
                EVENTS,
                {"filter": {"organisationCode": data.organisation}},
            ),
        }
    if round_ == "asof22":
        roots = {
            "contracts(asOf, filter: supplierId) totalCount + 20": (
                CONTRACTS,
                {"filter": {"supplierId": data.supplier}},
            ),
        }
    if round_ == "asof23":
        roots = {"tenders(asOf, filter) first page of 20": (LIST, {})}
    if round_ == "asof24e":
        roots = {
            "events(asOf, knownAt) totalCount + 20": (EVENTS_KNOWN, {}),
            "events(asOf) totalCount + 20": (EVENTS, {}),
        }
    token = coordinator_token(SECRET)
    headers = {"authorization": f"Bearer {token}"}
    engines = {side: make_engine(url) for side in "AB"}
    sent: dict[str, list[tuple[str, Any]]] = {"A": [], "B": []}
    for side, engine in engines.items():

        def grab(*args: Any, side: str = side) -> None:
            sent[side].append((args[2], args[3]))

        event.listen(engine, "before_cursor_execute", grab)
    steps: dict[tuple[str, str, str], int] = {}
    apps = {
        "A": build_app(_older(ReadModels(engines["A"]), round_), settings(url, SECRET)),
        "B": build_app(ReadModels(engines["B"]), settings(url, SECRET)),
    }
    clients = {
        side: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        )
        for side, app in apps.items()
    }
    samples: dict[tuple[str, str, str], dict[str, list[float]]] = {}
    try:
        for name, (query, variables) in roots.items():
            for when in ("past", "present"):
                asked = {**variables, **({"asOf": middle} if when == "past" else {})}
                if when == "past" and query is EVENTS_KNOWN:
                    asked["knownAt"] = f"{middle}T23:59:59+00:00"
                body = {"query": query, "variables": asked}
                answers = {}
                for side in "AB":  # warm (ANALYZE, caches), and the answers compared
                    for _ in range(3):
                        answer = await clients[side].post("/graphql", json=body, headers=headers)
                    answers[side] = answer.json()
                    if answers[side].get("errors"):
                        raise RuntimeError(f"{name} {when} {side}: {answers[side]}")
                if _same(answers["A"]) != _same(answers["B"]):
                    raise RuntimeError(f"{name} {when}: A {answers['A']} != B {answers['B']}")
                for side in "AB":  # one request's statements, their VM steps
                    sent[side].clear()
                    await clients[side].post("/graphql", json=body, headers=headers)
                    steps[(name, when, side)] = _vm_steps(url, sent[side])
                    sent[side].clear()
                for r in range(rounds):
                    for side in "AB" if r % 2 == 0 else "BA":
                        found = samples.setdefault((name, when, side), {"ms": [], "cpu": []})
                        for _ in range(requests):
                            wall, cpu = time.perf_counter(), time.process_time()
                            await clients[side].post("/graphql", json=body, headers=headers)
                            found["cpu"].append((time.process_time() - cpu) * 1e6)
                            found["ms"].append((time.perf_counter() - wall) * 1000)
                        sent[side].clear()
    finally:
        for client in clients.values():
            await client.aclose()
        for engine in engines.values():
            engine.dispose()
    out = []
    for (name, when, side), found in samples.items():
        out.append(
            {
                "events": events,
                "root": name,
                "side": when,
                "ab": side,
                "p50_ms": statistics.median(found["ms"]),
                "p99_ms": _percentile(found["ms"], 0.99),
                "cpu_us": statistics.median(found["cpu"]),
                "samples": len(found["ms"]),
                "steps": steps.get((name, when, side)),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("databases", nargs="+", help="DB:EVENTS")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=30, help="per round and side")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--round", default="asof20", choices=sorted(BEFORE), help="which A/B")
    args = parser.parse_args()
    results = []
    for spec in args.databases:
        path, _, events = spec.partition(":")
        url = f"sqlite:///{Path(path).resolve()}"
        results += asyncio.run(_run(url, int(events), args.rounds, args.requests, args.round))
    by = {(r["events"], r["root"], r["side"], r["ab"]): r for r in results}
    for (events, root, side, ab), r in sorted(by.items()):
        if ab != "B":
            continue
        a = by[(events, root, side, "A")]
        print(
            f"{events:>8,} {side:<7} {root[:52]:<52}"
            f" A p50 {a['p50_ms']:6.2f} p99 {a['p99_ms']:6.2f} ms cpu {a['cpu_us']:7.0f} us |"
            f" B p50 {r['p50_ms']:6.2f} p99 {r['p99_ms']:6.2f} ms cpu {r['cpu_us']:7.0f} us |"
            f" B/A p50 {r['p50_ms'] / a['p50_ms']:.2f}x cpu {r['cpu_us'] / a['cpu_us']:.2f}x;"
            f" VM steps A {a['steps']:,} B {r['steps']:,}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
