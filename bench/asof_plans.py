"""`python -m bench.asof_plans DB[:EVENTS] ...`: what each as-of root reads, per history size.

For each root of the as-of suite (`bench.suites.asof.roots`), past and present, on read models
built by `bench.suites.asof.build` (kept on disk: `--build N DIR` builds one there): the
gateway's real app answers the request in process; every SELECT it sends is captured from its
engine and then, on a plain sqlite3 connection, planned (EXPLAIN QUERY PLAN), run to count the
rows it returns and the rows SQLite's virtual machine stepped through (a proxy for the rows
read), and timed (median of `--repeat`). Plans and row counts are deterministic: they say
whether a root's cost grows with the history, which latencies on a shared machine cannot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from bench.config import QUICK
from bench.gateway_app import coordinator_token, settings
from bench.suites.asof import EVENTS_KNOWN, Dataset, _middle, build, describe, roots
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.readmodels import ReadModels

SECRET = "asof-plans-" + "0" * 32


async def _captured(
    url: str, body: dict[str, Any], repeat: int
) -> tuple[Any, list[tuple[str, Any]], float]:
    """The gateway's answer to `body`, each statement it sent (with its parameters) and the
    median in-process latency of `repeat` more requests, one at a time (ms)."""
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []
    capturing = True

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if capturing:
            sent.append((statement, parameters))

    app = build_app(ReadModels(engine), settings(url, SECRET))
    token = coordinator_token(SECRET)
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        await client.post("/graphql", json=body, headers=headers)  # warm: ANALYZE, caches
        sent.clear()
        answer = (await client.post("/graphql", json=body, headers=headers)).json()
        capturing = False
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            await client.post("/graphql", json=body, headers=headers)
            times.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    return answer, sent, statistics.median(times)


def _vm_steps(conn: sqlite3.Connection, sql: str, parameters: Any) -> tuple[int, int]:
    """(rows returned, virtual-machine steps / 1000): the steps grow with the rows read."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.set_progress_handler(tick, 1000)
    try:
        rows = len(conn.execute(sql, parameters).fetchall())
    finally:
        conn.set_progress_handler(None, 0)
    return rows, steps


def _timed(conn: sqlite3.Connection, sql: str, parameters: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        conn.execute(sql, parameters).fetchall()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _items(answer: Any) -> int:
    """How many objects the answer holds (its size in rows, not bytes)."""
    if isinstance(answer, dict):
        return 1 + sum(_items(v) for v in answer.values())
    if isinstance(answer, list):
        return sum(_items(v) for v in answer)
    return 0


def probe(data: Dataset, repeat: int, only: str | None) -> list[dict[str, Any]]:
    middle = _middle(data.url)
    database = data.url.split("///", 1)[-1]
    out = []
    for name, (query, variables, as_of) in roots(data, middle).items():
        if only and only not in name:
            continue
        for side in ("past", "present"):
            asked = dict(variables)
            if side == "past":
                asked["asOf"] = as_of
                if query is EVENTS_KNOWN:
                    asked["knownAt"] = f"{as_of}T23:59:59+00:00"
            body = {"query": query, "variables": asked}
            answer, sent, request_ms = asyncio.run(_captured(data.url, body, repeat))
            if answer.get("errors"):
                raise RuntimeError(f"{name} {side}: {json.dumps(answer)[:400]}")
            statements = []
            with sqlite3.connect(database) as conn:
                for sql, parameters in sent:
                    if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                        statements.append({"sql": sql, "plan": [], "rows": 0, "ksteps": 0, "ms": 0})
                        continue
                    plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, parameters)]
                    rows, steps = _vm_steps(conn, sql, parameters)
                    ms = _timed(conn, sql, parameters, repeat)
                    statements.append(
                        {"sql": sql, "plan": plan, "rows": rows, "ksteps": steps, "ms": ms}
                    )
            out.append(
                {
                    "events": data.events,
                    "root": name,
                    "side": side,
                    "as_of": as_of if side == "past" else None,
                    "answer_bytes": len(json.dumps(answer)),
                    "answer_items": _items(answer.get("data")),
                    "request_ms": request_ms,
                    "statements": statements,
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("databases", nargs="*", help="DB:EVENTS, read models built by asof.build")
    parser.add_argument("--build", nargs=2, metavar=("EVENTS", "DIR"), help="build one, keep it")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", help="roots whose name holds this")
    parser.add_argument("--json", help="write every statement here")
    parser.add_argument("--plans", action="store_true", help="print every statement's plan")
    args = parser.parse_args()
    if args.build:
        events, directory = int(args.build[0]), Path(args.build[1])
        data = build(QUICK, events)
        target = directory / f"asof-{events}.db"
        shutil.move(data.url.split("///", 1)[-1], target)
        print(f"built {target}")
        return
    results = []
    for spec in args.databases:
        path, _, events = spec.partition(":")
        data = describe(f"sqlite:///{Path(path).resolve()}", int(events or 0))
        print(f"{path}: {data}")
        results += probe(data, args.repeat, args.only)
    for r in results:
        total_ms = sum(s["ms"] for s in r["statements"])
        ksteps = sum(s["ksteps"] for s in r["statements"])
        print(
            f"{r['events']:>8,} {r['side']:<7} {r['root'][:58]:<58}"
            f" answer {r['answer_bytes']:>7,} B {r['answer_items']:>5} items;"
            f" {len(r['statements'])} stmts, SQL {total_ms:8.2f} ms, {ksteps:>7,}k steps;"
            f" request {r['request_ms']:7.2f} ms"
        )
        if args.plans:
            for s in r["statements"]:
                print(
                    f"      {s['ms']:8.2f} ms {s['rows']:>6} rows {s['ksteps']:>6}k"
                    f"  {s['sql'][:150]!r}"
                )
                for step in s["plan"]:
                    print(f"          {step}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
