"""(3) GraphQL requests/s and p50/p99 at a fixed concurrency for three queries, against a
plain ASGI endpoint running the same SQL and returning the same JSON; load from wrk.

The plain side runs now, against the benchmark read model. The GraphQL side plugs in
through `graphql_app_factory()` once the gateway is on main; until then it is reported as
not measured, with the plain figures standing alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.context import BenchContext
from bench.figures import Figure, not_measured
from bench.wrk import WrkResult, run_wrk
from eventstore.testing.nats_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def graphql_app_factory() -> str | None:
    """`module:factory` of the gateway's ASGI app over a given read-model URL, when it exists."""
    try:
        import gateway.app  # noqa: F401
    except ImportError:
        return None
    return None  # wiring the gateway's auth and read models here is the next step


def pick_parameters(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        framework = conn.execute(
            text(
                "SELECT framework_contract_id FROM bench_rm_call_offs"
                " GROUP BY framework_contract_id ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).scalar_one()
        tender, first = conn.execute(
            text(
                "SELECT tender_id, min(occurred_at) FROM bench_rm_tender_events"
                " GROUP BY tender_id ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).one()
    engine.dispose()
    first_day = first if isinstance(first, date) else date.fromisoformat(str(first)[:10])
    return {
        "framework": framework,
        "tender": tender,
        "as_of": (first_day + timedelta(days=120)).isoformat(),
    }


def serve_plain(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCH_READ_MODEL_URL": url}
    args = [sys.executable, "-m", "uvicorn", "--factory", "bench.plain_app:create"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(args, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/plain/expiring", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise TimeoutError("the plain endpoint did not start")


async def run(ctx: BenchContext) -> list[Figure]:
    if ctx.read_model_url is None:
        return [not_measured("graphql", "all queries", "req/s", "plain ASGI", "no read model")]
    params = pick_parameters(ctx.read_model_url)
    port = free_port()
    queries = {
        "contracts expiring in 12 months, first page": "/plain/expiring",
        "framework with participants and call-offs": f"/plain/framework?id={params['framework']}",
        "tender as of a past date": f"/plain/tender?id={params['tender']}&as_of={params['as_of']}",
    }
    plain: dict[str, WrkResult] = {}
    process = serve_plain(ctx.read_model_url, port)
    try:
        for name, path in queries.items():
            plain[name] = run_wrk(
                f"http://127.0.0.1:{port}{path}",
                ctx.config.http_seconds,
                ctx.config.http_connections,
            )
    finally:
        process.terminate()
        process.wait(timeout=10)
    figures = []
    why = "gateway not on main yet: GraphQL side pending; plain endpoint measured"
    for name, result in plain.items():
        c = ctx.config.http_connections
        for what, unit, value in (
            ("req/s", "req/s", result.requests_per_s),
            ("p50", "ms", result.p50_ms),
            ("p99", "ms", result.p99_ms),
        ):
            figure = not_measured("graphql", f"{name}: {what} at {c} conns", unit, "plain", why)
            figure.baseline_name = "plain ASGI, same SQL and JSON"
            figure.baseline = round(value, 3)
            figure.higher_is_better = what == "req/s"
            figure.target = {"req/s": "overhead <= 2x", "p99": "p99 <= 50 ms"}.get(what, "")
            figure.extra = {"errors": result.errors, "parameters": params}
            if result.errors:
                figure.note += f"; {result.errors} failed requests"
            figures.append(figure)
    return figures
