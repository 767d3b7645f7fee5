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
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from typing import Any

from starlette.types import ASGIApp, Message

from bench import infra
from bench.config import QUICK
from bench.gateway_app import coordinator_token, settings
from bench.suites.graphql import EXPIRING, FRAMEWORK, TENDER_AS_OF, pick_parameters
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.readmodels import ReadModels

REQUESTS_MEASURED = 1_000


async def build_read_model() -> str:
    """The quick history's read model in a temporary SQLite file; its URL."""
    from bench.history.generator import generate
    from bench.loader import load_history
    from bootstrap.parts import projection_runner
    from gateway.projections import ALL

    path = os.path.join(tempfile.mkdtemp(prefix="cost-graphql-"), "read-models.db")
    url = f"sqlite:///{path}"
    history = generate(QUICK.seed, QUICK.history_events)
    with infra.nats_server() as server:
        async with infra.connected(server.url) as nc:
            loaded = await load_history(nc, history)
            engine = make_engine(url)
            runners = [projection_runner(nc, engine, p(), batch=500) for p in ALL]
            for runner in runners:
                await runner.start()
            try:
                reached = await asyncio.gather(
                    *(r.wait_until(loaded.last_seq, 600) for r in runners)
                )
                if not all(reached):
                    raise TimeoutError("the read model did not reach the end of the streams")
            finally:
                for runner in runners:
                    await runner.stop()
                engine.dispose()
    return url


async def post(app: ASGIApp, body: bytes, token: str) -> dict[str, Any]:
    """One POST /graphql through the ASGI app, in memory."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
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


async def measure(url: str, n: int) -> list[tuple[str, float, float, str]]:
    p = pick_parameters(url)
    secret = secrets.token_hex(32)
    token = coordinator_token(secret)
    app = build_app(ReadModels(make_engine(url)), settings(url, secret))
    queries = {
        "expiring contracts, first 20": (EXPIRING, {"from": p["from"], "to": p["to"]}),
        "framework, nested": (FRAMEWORK, {"id": p["framework"]}),
        "tender's event log": (TENDER_AS_OF, {"id": p["tender"], "before": p["before"]}),
    }
    results = []
    only = os.environ.get("ONLY")  # a part of one query's name: measure that one only
    for name, (query, variables) in queries.items():
        if only and only not in name:
            continue
        body = json.dumps({"query": query, "variables": variables}).encode()
        for _ in range(50):  # warm: caches filled, statements compiled
            await post(app, body, token)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            await post(app, body, token)
        per_request = (time.process_time() - cpu) / n * 1e6
        wall_per_request = (time.perf_counter() - wall) / n * 1e6
        profile = cProfile.Profile()  # a second round, under the profiler
        profile.enable()
        for _ in range(n):
            await post(app, body, token)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(os.environ.get("SORT", "tottime")).print_stats(
            int(os.environ.get("TOP", "5"))
        )
        results.append((name, per_request, wall_per_request, out.getvalue()))
    return results


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else asyncio.run(build_read_model())
    n = int(os.environ.get("REQUESTS", REQUESTS_MEASURED))
    for name, per_request, wall, top in asyncio.run(measure(url, n)):
        print(f"== {name}")
        print(f"CPU per GraphQL request (this process, threads included): {per_request:,.0f} µs")
        print(f"wall time per request, one at a time: {wall:,.0f} µs")
        print(top)


if __name__ == "__main__":
    main()
