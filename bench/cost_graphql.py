"""`python -m bench.cost_graphql [READ_MODEL_URL]`: what one GraphQL request costs in CPU, and
where it goes (cProfile).

The gateway's real ASGI app (bench/gateway_app.py) in this process, called in memory one request
at a time with the GraphQL suite's three queries (no socket, no HTTP parser: what remains is the
gateway's own work). CPU is this process's, the database's worker threads included. Without a
URL it builds a read model first: the quick history, loaded into a NATS server of its own and
projected into a temporary SQLite file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlencode

from nats.aio.client import Client as NATS
from starlette.types import ASGIApp, Message

from bench import infra, plain_app
from bench.config import QUICK
from bench.gateway_app import coordinator_token, settings
from bench.profiled import InlineExecutor
from bench.suites.graphql import EXPIRING, FRAMEWORK, TENDER_AS_OF, pick_parameters
from eventstore.collector import freeze_start_up
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.planner import analyze
from gateway.readmodels import ReadModels

REQUESTS_MEASURED = 1_000


async def build_read_model() -> str:
    """The quick history's read model in a temporary SQLite file; its URL."""
    from bench.history.generator import generate
    from bench.loader import load_history

    history = generate(QUICK.seed, QUICK.history_events)
    with infra.nats_server() as server:
        async with infra.connected(server.url) as nc:
            loaded = await load_history(nc, history)
            return await project_read_model(nc, loaded.last_seq)


async def project_read_model(nc: NATS, last_seq: dict[str, int]) -> str:
    """The gateway's read models of the streams up to `last_seq` (stream -> sequence), projected
    into a temporary SQLite file, their read indexes built; its URL."""
    from bootstrap.parts import projection_runner
    from gateway.projections import ALL

    path = os.path.join(tempfile.mkdtemp(prefix="cost-graphql-"), "read-models.db")
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    runners = [projection_runner(nc, engine, p(), batch=500) for p in ALL]
    for runner in runners:
        await runner.start()
    try:
        reached = await asyncio.gather(*(r.wait_until(last_seq, 600) for r in runners))
        if not all(reached):
            raise TimeoutError("the read model did not reach the end of the streams")
        # A rebuild from nothing builds its read indexes once caught up: without
        # them both sides scan the tables and the figures say nothing about us.
        await asyncio.gather(*(r.read_indexes_built() for r in runners))
    finally:
        for runner in runners:
            await runner.stop()
        engine.dispose()
    return url


async def call(app: ASGIApp, path: str, body: bytes = b"", token: str = "") -> dict[str, Any]:
    """One request through an ASGI app, in memory: a POST with a body, else a GET."""
    path, _, query = path.partition("?")
    headers = [(b"content-type", b"application/json")]
    headers += [(b"content-length", str(len(body)).encode())] if body else []
    headers += [(b"authorization", f"Bearer {token}".encode())] if token else []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST" if body else "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # nothing more: the client waits for the answer
        raise AssertionError

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    answer: dict[str, Any] = json.loads(b"".join(chunks))
    if answer.get("errors"):
        raise RuntimeError(f"the query failed: {answer['errors']}")
    return answer


async def post(app: ASGIApp, body: bytes, token: str) -> dict[str, Any]:
    return await call(app, "/graphql", body, token)


@dataclass
class Cost:
    name: str
    cpu_us: float  # per request, this process (threads included)
    wall_us: float  # per request, CONCURRENCY in flight (the round of least CPU)
    plain_cpu_us: float  # the plain endpoint's, same SQL and JSON, same run
    plain_wall_us: float
    top: str  # the profile's top entries


ROUNDS = 10


def _concurrency(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"CONCURRENCY: a whole number of requests in flight (>= 1), not {raw!r}")
    return int(raw)


CONCURRENCY = _concurrency(os.environ.get("CONCURRENCY", "1"))  # requests in flight at once


async def cpu_per_request(send: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    """CPU and wall time per request, `CONCURRENCY` requests in flight (wall: per request
    of the round, the inverse of throughput; with 1, a request's latency)."""
    for _ in range(50):  # warm: caches filled, statements compiled
        await send()

    async def client(count: int) -> None:
        for _ in range(count):
            await send()

    if n < CONCURRENCY:
        raise SystemExit(f"CONCURRENCY={CONCURRENCY}: more requests in flight than {n} measured")
    cpu, wall = time.process_time(), time.perf_counter()
    if CONCURRENCY == 1:
        await client(n)
    else:
        await asyncio.gather(*(client(n // CONCURRENCY) for _ in range(CONCURRENCY)))
        n = n // CONCURRENCY * CONCURRENCY
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


async def paired(
    ours: Callable[[], Awaitable[Any]], theirs: Callable[[], Awaitable[Any]], n: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Both sides' CPU and wall per request, in alternating rounds: the least disturbed round
    of each (on a shared machine another process's burst lands in some rounds, not all)."""
    rounds: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for _ in range(ROUNDS):
        rounds.append(
            (
                await cpu_per_request(ours, max(1, n // ROUNDS)),
                await cpu_per_request(theirs, max(1, n // ROUNDS)),
            )
        )
    return min(r[0] for r in rounds), min(r[1] for r in rounds)


async def measure(url: str, n: int) -> list[Cost]:
    p = pick_parameters(url)
    engine = make_engine(url)
    analyze(engine)  # as the bench suite: both sides plan with the gateway's statistics
    engine.dispose()
    secret = secrets.token_hex(32)
    token = coordinator_token(secret)
    app = build_app(ReadModels(make_engine(url)), settings(url, secret))
    os.environ["BENCH_READ_MODEL_URL"] = url
    plain = plain_app.create()
    freeze_start_up()  # as the gateway's server process does, for both sides here
    queries = {
        "expiring contracts, first 20": (
            EXPIRING,
            {"from": p["from"], "to": p["to"]},
            "/plain/expiring?" + urlencode({"from": p["from"], "to": p["to"]}),
        ),
        "framework, nested": (
            FRAMEWORK,
            {"id": p["framework"]},
            "/plain/framework?" + urlencode({"id": p["framework"]}),
        ),
        "tender's event log": (
            TENDER_AS_OF,
            {"id": p["tender"], "before": p["before"]},
            "/plain/tender?" + urlencode({"id": p["tender"], "before": p["before"]}),
        ),
    }
    results = []
    only = os.environ.get("ONLY")  # a part of one query's name: measure that one only
    for name, (query, variables, path) in queries.items():
        if only and only not in name:
            continue
        body = json.dumps({"query": query, "variables": variables}).encode()
        if await post(app, body, token) != await call(plain, path):
            raise RuntimeError(f"{name}: the gateway and the plain endpoint answer differently")
        (per_request, wall), (plain_per_request, plain_wall) = await paired(
            partial(post, app, body, token), partial(call, plain, path), n
        )
        loop = asyncio.get_running_loop()
        loop.set_default_executor(InlineExecutor())  # the profile sees the database side
        # A third round, under the profiler. It counts CPU time: on a shared machine wall
        # time charges whatever function was running when the process lost its core.
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        for _ in range(n):
            await post(app, body, token)
        profile.disable()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor())
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(os.environ.get("SORT", "tottime")).print_stats(
            int(os.environ.get("TOP", "5"))
        )
        results.append(Cost(name, per_request, wall, plain_per_request, plain_wall, out.getvalue()))
    return results


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else asyncio.run(build_read_model())
    n = int(os.environ.get("REQUESTS", REQUESTS_MEASURED))
    for cost in asyncio.run(measure(url, n)):
        ratio = cost.cpu_us / cost.plain_cpu_us
        print(f"== {cost.name}")
        print(f"CPU per GraphQL request (this process, threads included): {cost.cpu_us:,.0f} µs")
        print(
            f"CPU per request of the plain endpoint (same SQL and JSON): {cost.plain_cpu_us:,.0f}"
            f" µs ({ratio:.1f}x)"
        )
        print(
            f"wall time per GraphQL request, {CONCURRENCY} at a time: {cost.wall_us:,.0f} µs"
            f" (plain: {cost.plain_wall_us:,.0f} µs)"
        )
        print(cost.top)


if __name__ == "__main__":
    main()
