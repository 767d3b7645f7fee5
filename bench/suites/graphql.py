"""(3) GraphQL requests/s and p50/p99 at a fixed concurrency for three queries through the
gateway's real app, against a plain ASGI endpoint running the same SQL over the same tables
and returning the same JSON. Both sides run as the same number of uvicorn worker processes on
one port (a socket each), and each again as one process; load comes from wrk.

Before measuring, both sides are asked each query once and must answer with equal JSON.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import text

from bench.context import BenchContext
from bench.figures import Figure, not_measured
from bench.gateway_app import SECRET_ENV, coordinator_token
from bench.plain_app import CALL_OFFS_TABLE, EVENTS_TABLE
from bench.wrk import WrkResult, connections_held, run_wrk, run_wrk_sampled
from eventstore.nats_launcher import free_port
from eventstore.sql import make_engine
from gateway.planner import analyze

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
GATEWAY_WORKERS = 2  # one per core of the bench machine; the plain side gets as many
WARM_UP_SECONDS = 1
# A server's start: importing the gateway costs ~6 s of CPU; with two workers and two other
# servers starting at once on a machine at load 20 it took over a minute (two runs failed
# at the 60 s this was).
START_SECONDS = 300

EXPIRING = """query Expiring($from: Date!, $to: Date!) {
  expiringContracts(from: $from, to: $to, first: 20) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { contractId kind contractingAuthorityCode endDate status } }
  }
}"""
FRAMEWORK = """query Framework($id: String!) {
  contract(contractId: $id) {
    contractId kind endDate
    participants { organisationCode lotIds }
    callOffs { callOffId participantCode supplierId procedure }
  }
}"""
# The gateway has no asOf argument on main yet: "the tender as known at a past date" is its
# event log up to that transaction time (recordedBefore), the closest query it offers.
TENDER_AS_OF = """query TenderAsKnownAt($id: String!, $before: DateTime!) {
  events(
    filter: {aggregateType: TENDER, aggregateId: $id, recordedBefore: $before}, first: 100
  ) {
    totalCount
    edges { node { eventType aggregateType aggregateVersion occurredAt recordedAt payload } }
  }
}"""


def graphql_queries(p: dict[str, str]) -> dict[str, tuple[str, dict[str, str], str]]:
    """The three queries (their names), each with its variables and the plain endpoint's path."""
    return {
        "contracts expiring in 12 months, first page of 20": (
            EXPIRING,
            {"from": p["from"], "to": p["to"]},
            "/plain/expiring?" + urlencode({"from": p["from"], "to": p["to"]}),
        ),
        "framework with participants and call-offs, nested": (
            FRAMEWORK,
            {"id": p["framework"]},
            "/plain/framework?" + urlencode({"id": p["framework"]}),
        ),
        "tender as known at a past date (event log, recordedBefore)": (
            TENDER_AS_OF,
            {"id": p["tender"], "before": p["before"]},
            "/plain/tender?" + urlencode({"id": p["tender"], "before": p["before"]}),
        ),
    }


def pick_parameters(url: str) -> dict[str, str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        framework = conn.execute(
            text(
                f"SELECT framework_contract_id FROM {CALL_OFFS_TABLE}"
                " WHERE known_to = 4611686018427387904"  # versions still known (FOREVER)
                " GROUP BY framework_contract_id ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).scalar_one()
        tender, first = conn.execute(
            text(
                f"SELECT aggregate_id, min(recorded_at) FROM {EVENTS_TABLE}"
                " WHERE aggregate_type = 'tender'"
                " GROUP BY aggregate_id ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).one()
        # "Today" is the history's last day of transaction time.
        today = conn.execute(text(f"SELECT max(recorded_at) FROM {EVENTS_TABLE}")).scalar_one()
    engine.dispose()
    first_moment = first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
    before = (first_moment.replace(tzinfo=UTC) + timedelta(days=120)).isoformat()
    start = today if isinstance(today, date) else date.fromisoformat(str(today)[:10])
    return {
        "framework": framework,
        "tender": tender,
        "before": before,
        "from": start.isoformat(),
        "to": (start + timedelta(days=365)).isoformat(),
    }


def serve(factory: str, env: dict[str, str], port: int, probe: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "uvicorn", "--factory", factory, "--no-access-log"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=2)
            return process
        except urllib.error.HTTPError:
            return process  # it answers (e.g. 405 to a GET): it is up
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise TimeoutError(f"{factory} did not start within {START_SECONDS} s")


def listening_sockets(port: int) -> int:
    """How many sockets listen on this local TCP port (/proc/net/tcp: state 0A is LISTEN)."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for r in rows if r[3] == "0A" and int(r[1].split(":")[1], 16) == port)


def serve_workers(
    env: dict[str, str], port: int, workers: int, module: str = "bench.gateway_app"
) -> list[subprocess.Popen[bytes]]:
    """`module`'s app as the gateway's supervisor runs it with GT_HTTP_WORKERS: a process per
    worker, each on its own socket of the port (`gateway.serve.worker_sockets`); up once all
    listen."""
    args = [sys.executable, "-m", module, str(port)]
    processes = [
        subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT) for _ in range(workers)
    ]
    deadline = time.monotonic() + START_SECONDS
    while listening_sockets(port) < workers:
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            for process in processes:
                process.kill()
            raise TimeoutError(f"the {module} workers did not start within {START_SECONDS} s")
        time.sleep(0.2)
    return processes


def cpu_seconds(pids: list[int]) -> float:
    """The CPU time (user + system, every thread) these processes have used so far (Linux)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after the command's name
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def measured(pids: list[int], seconds: int, run: Callable[..., T], *args: Any) -> tuple[T, float]:
    """`run(*args)`'s result (a WrkResult, or one and a sample) and the servers' CPU per
    request it answered, in microseconds: on a shared machine latency says how busy the
    machine was, CPU per request what a request costs (wrk's requests/s times its seconds:
    the requests answered)."""
    before = cpu_seconds(pids)
    got = run(*args)
    used = cpu_seconds(pids) - before
    result = got[0] if isinstance(got, tuple) else got
    answered = result.requests_per_s * seconds if isinstance(result, WrkResult) else 0
    return got, (used / answered * 1e6 if answered else float("nan"))


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def post_script(body: str, token: str) -> str:
    """A wrk Lua script that POSTs one GraphQL request."""
    lua = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    handle, path = tempfile.mkstemp(prefix="bench-wrk-", suffix=".lua")
    with os.fdopen(handle, "w") as f:
        f.write(lua)
    return path


def fetch(url: str, body: str | None = None, token: str = "") -> Any:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(
        url, data=body.encode() if body else None, headers=headers if body else {}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


async def run(ctx: BenchContext) -> list[Figure]:
    if ctx.read_model_url is None:
        return [not_measured("graphql", "all queries", "req/s", "plain ASGI", "no read model")]
    url = ctx.read_model_url
    p = pick_parameters(url)
    # The planner statistics the gateway keeps (gateway/planner.py), gathered before either
    # side opens a connection: both plan the same SQL with the same statistics.
    engine = make_engine(url)
    analyze(engine)
    engine.dispose()
    secret = secrets.token_hex(32)
    token = coordinator_token(secret)
    queries = graphql_queries(p)
    env = {"BENCH_READ_MODEL_URL": url, SECRET_ENV: secret}
    gport, oport, pport, sport = free_port(), free_port(), free_port(), free_port()
    # Each side as deployed behind one port with a worker process per core (each on its own
    # socket, as the gateway's supervisor runs them), and each again as one process, so that
    # the figures compare like with like and show what the workers add.
    gateway = serve_workers(env, gport, GATEWAY_WORKERS)
    plain = serve_workers(env, pport, GATEWAY_WORKERS, module="bench.plain_app")
    single = serve("bench.gateway_app:create", env, oport, "/healthz")
    plain_single = serve("bench.plain_app:create", env, sport, "/plain/framework?id=none")
    results: dict[str, tuple[WrkResult, WrkResult, WrkResult, WrkResult, bool]] = {}
    spreads: dict[str, tuple[list[int], list[int]]] = {}  # connections each worker held
    cpus: dict[str, tuple[float, float, float, float]] = {}  # us per request, as `results`
    gpids, ppids = [p.pid for p in gateway], [p.pid for p in plain]
    held_g = partial(connections_held, gport, gpids)  # sampled halfway through the run
    held_p = partial(connections_held, pport, ppids)
    c, seconds = ctx.config.http_connections, ctx.config.http_seconds
    try:
        for name, (query, variables, path) in queries.items():
            body = json.dumps({"query": query, "variables": variables})
            graphql_url, single_url, plain_url, plain_single_url = (
                f"http://127.0.0.1:{gport}/graphql",
                f"http://127.0.0.1:{oport}/graphql",
                f"http://127.0.0.1:{pport}{path}",
                f"http://127.0.0.1:{sport}{path}",
            )
            ours, theirs = fetch(graphql_url, body, token), fetch(plain_url)
            same = ours == theirs == fetch(single_url, body, token) == fetch(plain_single_url)
            if not same:
                print(
                    f"[bench] {name}: answers differ\n{json.dumps(ours)[:800]}\n"
                    f"{json.dumps(theirs)[:800]}"
                )
            script = post_script(body, token)
            try:
                # The same warm-up for every side, at the measured concurrency, so that no
                # side's first requests of a query (a worker's first answer, a cold page
                # cache) fall into its measured seconds.
                for warm_url, warm_script in (
                    (graphql_url, script),
                    (single_url, script),
                    (plain_url, None),
                    (plain_single_url, None),
                ):
                    run_wrk(warm_url, WARM_UP_SECONDS, c, warm_script)
                (g, spread), g_cpu = measured(
                    gpids, seconds, run_wrk_sampled, graphql_url, seconds, c, script, held_g
                )
                one, one_cpu = measured(
                    [single.pid], seconds, run_wrk, single_url, seconds, c, script
                )
            finally:
                os.unlink(script)
            (b, plain_spread), b_cpu = measured(
                ppids, seconds, run_wrk_sampled, plain_url, seconds, c, None, held_p
            )
            b_one, b_one_cpu = measured(
                [plain_single.pid], seconds, run_wrk, plain_single_url, seconds, c
            )
            results[name] = (g, one, b, b_one, same)
            spreads[name] = (spread, plain_spread)
            cpus[name] = (g_cpu, one_cpu, b_cpu, b_one_cpu)
    finally:
        for process in (*gateway, *plain, single, plain_single):
            stop(process)
    figures = []
    for name, (g, one, b, b_one, same) in results.items():
        held, plain_held = spreads[name]
        g_cpu, one_cpu, b_cpu, b_one_cpu = cpus[name]
        note = "" if same else "ANSWERS DIFFER from the plain endpoint's; "
        note += f"{g.errors} failed requests; " if g.errors else ""
        note += f"both sides: {GATEWAY_WORKERS} worker processes"
        note += f"; the workers held {'/'.join(map(str, held))} (gateway)"
        note += f" and {'/'.join(map(str, plain_held))} (plain) of the {c} conns"
        note += f"; CPU per request {g_cpu:.0f} us (plain {b_cpu:.0f} us)"
        for what, unit in (("req/s", "req/s"), ("p50", "ms"), ("p99", "ms")):
            value = {"req/s": g.requests_per_s, "p50": g.p50_ms, "p99": g.p99_ms}[what]
            base = {"req/s": b.requests_per_s, "p50": b.p50_ms, "p99": b.p99_ms}[what]
            figure = Figure(
                "graphql",
                f"{name}: {what} at {c} conns",
                unit,
                round(value, 3),
                f"plain ASGI, same SQL and JSON, {GATEWAY_WORKERS} workers",
                round(base, 3),
                higher_is_better=what == "req/s",
                note=note,
                extra={
                    "parameters": p,
                    "same_json": same,
                    "gateway_workers": GATEWAY_WORKERS,
                    "plain_workers": GATEWAY_WORKERS,
                    "connections_per_worker": held,
                    "plain_connections_per_worker": plain_held,
                    "cpu_us_per_request": round(g_cpu, 1),
                    "plain_cpu_us_per_request": round(b_cpu, 1),
                },
            )
            if what == "req/s":
                figure.target, figure.target_met = ">= 0.5x plain", value * 2 >= base
            elif what == "p99" and name.startswith("contracts expiring"):
                figure.target = "<= 2x plain and <= 50 ms"
                figure.target_met = value <= 2 * base and value <= 50
            else:
                figure.target, figure.target_met = "<= 2x plain", value <= 2 * base
            figures.append(figure)
        for what in ("p50", "p99"):
            value = {"p50": one.p50_ms, "p99": one.p99_ms}[what]
            base = {"p50": b_one.p50_ms, "p99": b_one.p99_ms}[what]
            figures.append(
                Figure(
                    "graphql",
                    f"{name}: {what} at {c} conns, one gateway process",
                    "ms",
                    round(value, 3),
                    "plain ASGI, same SQL and JSON, one process",
                    round(base, 3),
                    higher_is_better=False,
                    note=(f"{one.errors} failed requests; " if one.errors else "")
                    + f"CPU per request {one_cpu:.0f} us (plain {b_one_cpu:.0f} us)",
                    extra={
                        "req_per_s": round(one.requests_per_s, 1),
                        "plain_req_per_s": round(b_one.requests_per_s, 1),
                        "cpu_us_per_request": round(one_cpu, 1),
                        "plain_cpu_us_per_request": round(b_one_cpu, 1),
                        "gateway_workers": 1,
                        "plain_workers": 1,
                    },
                )
            )
    return figures
