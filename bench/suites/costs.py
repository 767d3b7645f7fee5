"""(10) What it costs: CPU per command and per GraphQL request, each with its profile's top
entries (issue 18's last acceptance line), for docs/benchmarks.md's "What it costs" section.

- The registry's `AmendContract`, one command at a time on warm aggregates (the running
  contracts of the history, each taken once before measuring): served in this process beside
  its client (this process's CPU, client and service together, on the bench's asyncio loop),
  then in a service process of its own as the containers run it (`python -m bootstrap.serve
  registry`, uvloop) whose CPU is read from /proc apart from the client's (this process) and
  the broker's. The baseline: this process's CPU per raw JetStream publish of the same
  envelopes, one at a time.
- The GraphQL suite's three queries, one request at a time over one kept-alive connection, to
  one gateway worker process (`bench.gateway_app`, as the suite's workers); its process's CPU
  per request from /proc. The baseline: the plain endpoint's process (same SQL and JSON), the
  same way.

CPU figures come from rounds without a profiler; a further round of as many items runs under
cProfile by the serving thread's CPU time (`bench.profiled` switches it on in a service
process) and gives the top five functions by own time and the top five of the project's own
code by cumulative time, per item (`bench.cost.top_entries`). The profile slows what it
watches: its times are for where the CPU goes, the figure for how much.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import gc
import http.client
import json
import os
import pstats
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from nats.aio.client import Client as NATS

from bench.context import BenchContext
from bench.cost import top_entries
from bench.cost_graphql import project_read_model
from bench.figures import Figure, not_measured
from bench.gateway_app import SECRET_ENV, coordinator_token
from bench.loader import SEEDS, SIGNERS, public_keys
from bench.profiled import MODULE_ENV, OUT_ENV
from bench.suites.commands import (
    _process_cpu,
    broker_pid,
    free_port,
    registry_amendment,
    running_contracts,
    wait_served,
)
from bench.suites.graphql import (
    EXPIRING,
    FRAMEWORK,
    TENDER_AS_OF,
    cpu_seconds,
    pick_parameters,
    serve_workers,
    stop,
)
from bench.workload import RAW_STREAM, ensure_raw_stream
from bootstrap.parts import registry_service
from contracts_schema.base import Command
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.collector import tune_for_serving
from eventstore.service_app import serve_in_process, server_url
from eventstore.serving import send_command
from eventstore.signing import PUBLIC_KEYS_ENV
from eventstore.sql import make_engine
from eventstore.store import EventStore
from gateway.planner import analyze

SUITE = "costs"
ROUTE = "registry AmendContract, one at a time, warm aggregate"
RAW = "raw JetStream publish of the same envelopes, one at a time: this process's CPU per publish"
PLAIN = "plain ASGI endpoint, same SQL and JSON, one process: its CPU per request"
WARM_REQUESTS = 50
START_TIMEOUT = 180.0  # a service process's start on a busy machine
SWITCH_TIMEOUT = 60.0  # a profile switched on or written


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def cost_figure(
    name: str,
    per: str,
    cpu_us: float,
    baseline_name: str,
    baseline_us: float | None,
    measured: int,
    profile: pstats.Stats | None,
    load_before: Sequence[float],
    note: str = "",
    **extra: Any,
) -> Figure:
    """One cost as the results keep it: CPU in us per `per` ("command", "request"), its
    baseline, and in `extra` the items measured, the load, and the profile's top entries."""
    return Figure(
        SUITE,
        name,
        "us",
        round(cpu_us, 1),
        baseline_name,
        None if baseline_us is None else round(baseline_us, 1),
        higher_is_better=False,
        note=note,
        extra={
            "per": per,
            "measured": measured,
            "load": {"before": list(load_before), "after": load()},
            "profile": None if profile is None else top_entries(profile, measured),
            **extra,
        },
    )


async def run(ctx: BenchContext) -> list[Figure]:
    n = ctx.config.cost_samples
    figures: list[Figure] = []
    contracts = running_contracts(ctx.history)
    parts: list[tuple[str, Callable[[], Awaitable[list[Figure]]]]] = [
        ("command in process", lambda: command_in_process(ctx, contracts, n)),
        ("command in a service process", lambda: command_in_service(ctx, contracts, n)),
        ("GraphQL requests", lambda: graphql_requests(ctx, n)),
    ]
    raw: list[float] = []  # the raw publish's CPU, measured with the first part
    for what, part in parts:
        try:
            got = await part()
        except Exception as exc:  # the parts measured stay (a busy machine timed one out)
            got = [not_measured(SUITE, what, "us", "", f"{type(exc).__name__}: {exc}")]
        for f in got:
            if f.extra.get("raw_publish_cpu_us") is not None:
                raw.append(f.extra["raw_publish_cpu_us"])
            elif f.baseline_name == RAW and f.baseline is None and raw:
                f.baseline = raw[0]
        figures += got
    return figures


def amendment(contracts: list[tuple[str, datetime]], tag: str, i: int) -> Command:
    command = registry_amendment(contracts, 1, 0, i)
    return command.model_copy(update={"command_id": f"cost-{tag}-{i}"})


async def amend_all(
    client: NATS, contracts: list[tuple[str, datetime]], tag: str, numbers: range
) -> None:
    for i in numbers:
        reply = await send_command(client, REGISTRY, amendment(contracts, tag, i), actor="bench")
        if reply.status != "accepted":
            raise RuntimeError(f"{tag}-{i}: {reply}")


async def command_in_process(
    ctx: BenchContext, contracts: list[tuple[str, datetime]], n: int
) -> list[Figure]:
    """Client and service in this process, as `python -m bench.cost` measures them."""
    clock = SystemClock()
    store = EventStore(ctx.service_nc, clock, signers=SIGNERS)
    reader = EventStore(ctx.client, clock)
    thresholds = gc.get_threshold()
    tune_for_serving()  # a service process's collector (the commands suite does the same)
    broker = await serve_in_process(ctx.service_nc, [registry_service(store, clock)])
    try:
        before = load()
        warm = len(contracts)  # every contract taken once: its fold cached
        await amend_all(ctx.client, contracts, "in", range(warm))
        first_seq = await reader.last_seq(REGISTRY) + 1
        cpu = time.process_time()
        await amend_all(ctx.client, contracts, "in", range(warm, warm + n))
        per_command = (time.process_time() - cpu) / n * 1e6
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        await amend_all(ctx.client, contracts, "in", range(warm + n, warm + 2 * n))
        profile.disable()
    finally:
        await broker.stop()
        gc.set_threshold(*thresholds)
    raw = await raw_publish_cpu(ctx.client, reader, first_seq, n)
    return [
        cost_figure(
            f"{ROUTE}: CPU per command, client and service in this process",
            "command",
            per_command,
            RAW,
            raw,
            n,
            pstats.Stats(profile),
            before,
            note="On the bench's asyncio loop, with a service process's collector thresholds",
            raw_publish_cpu_us=round(raw, 1),
        )
    ]


async def raw_publish_cpu(client: NATS, reader: EventStore, first_seq: int, n: int) -> float:
    """This process's CPU per raw publish of the envelopes the measured commands appended."""
    js = client.jetstream()
    await ensure_raw_stream(js)
    bodies = []
    async for e in reader.read_stream(REGISTRY, first_seq):
        bodies.append(("benchraw." + e.subject, e.envelope.model_dump_json().encode()))
        if len(bodies) == n:
            break
    cpu = time.process_time()
    for subject, body in bodies:
        await js.publish(subject, body, stream=RAW_STREAM)
    return (time.process_time() - cpu) / len(bodies) * 1e6


@contextlib.contextmanager
def registry_process(nats_url: str, out: str) -> Iterator[subprocess.Popen[bytes]]:
    """The registry as its container runs it (`python -m bootstrap.serve registry`), under
    `bench.profiled` (its profile off until switched on), signing as the bench signs."""
    data = Path(tempfile.mkdtemp(prefix="bench-costs-registry-"))
    env = {**os.environ, "GT_NATS_URL": nats_url, "GT_DATA_DIR": str(data)}
    env |= {"GT_SIGNING_SEED": SEEDS["registry"], PUBLIC_KEYS_ENV: public_keys()}
    env |= {"GT_METRICS_HOST": "127.0.0.1", "GT_METRICS_PORT": str(free_port())}
    env |= {MODULE_ENV: "bootstrap.serve", OUT_ENV: out}
    log = data / "registry.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.profiled", "registry"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "started successfully" not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the registry did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield process
    finally:
        stop(process)
        shutil.rmtree(data, ignore_errors=True)


def written(path: str) -> bool:
    return os.path.exists(path)


async def switched(
    pid: int, sig: signal.Signals, path: str, poke: Callable[[], Awaitable[Any]]
) -> None:
    """Send `sig` to a `bench.profiled` process and wait until `path` exists (the profile
    switched on, or written). A handler runs at the process's next Python instruction: an
    idle process is poked (one cheap request) until it has run."""
    os.kill(pid, sig)
    deadline = time.monotonic() + SWITCH_TIMEOUT
    for attempt in range(sys.maxsize):
        if written(path):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sig.name}: {path} not written within {SWITCH_TIMEOUT} s")
        if attempt % 10 == 9:
            await poke()
        await asyncio.sleep(0.02)


async def command_in_service(
    ctx: BenchContext, contracts: list[tuple[str, datetime]], n: int
) -> list[Figure]:
    """The service process's own CPU per command, apart from the client's and the broker's."""
    scratch = tempfile.mkdtemp(prefix="bench-costs-")
    out = os.path.join(scratch, "registry.prof")
    client = ctx.client
    nats = broker_pid(client)

    async def poke() -> None:
        with contextlib.suppress(Exception):
            await client.request(REGISTRY.command_subject("Probe"), b"{}", timeout=1)

    try:
        with registry_process(server_url(client), out) as service:
            await wait_served(client)
            before = load()
            warm = len(contracts)
            await amend_all(client, contracts, "proc", range(warm))
            own, broker_cpu = os.times(), _process_cpu(nats) if nats else 0.0
            service_cpu = cpu_seconds([service.pid])
            await amend_all(client, contracts, "proc", range(warm, warm + n))
            service_us = (cpu_seconds([service.pid]) - service_cpu) / n * 1e6
            after = os.times()
            client_us = (after.user + after.system - own.user - own.system) / n * 1e6
            broker_us = ((_process_cpu(nats) - broker_cpu) / n * 1e6) if nats else None
            await switched(service.pid, signal.SIGUSR1, out + ".on", poke)
            await amend_all(client, contracts, "proc", range(warm + n, warm + 2 * n))
            await switched(service.pid, signal.SIGUSR2, out, poke)
            profile = pstats.Stats(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [
        cost_figure(
            f"{ROUTE}: CPU per command, the service process alone",
            "command",
            service_us,
            RAW,
            None,  # the raw publish measured with the in-process figure (`run`)
            n,
            profile,
            before,
            note=(
                f"Served by `python -m bootstrap.serve registry` (uvloop), its CPU from /proc;"
                f" meanwhile the client (this process) {client_us:,.0f} us and the broker"
                f" {'n/a' if broker_us is None else f'{broker_us:,.0f}'} us per command"
            ),
            client_cpu_us=round(client_us, 1),
            broker_cpu_us=None if broker_us is None else round(broker_us, 1),
        )
    ]


class Http:
    """One kept-alive HTTP/1.1 connection, one request at a time (blocking: run in a thread)."""

    def __init__(self, port: int, token: str = "") -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, path: str, body: bytes | None = None) -> Any:
        try:
            self.connection.request("POST" if body else "GET", path, body, self.headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the connection while it idled (uvicorn keeps an idle one 5 s,
            # and this one idled while the other side was measured): once more, on a new one.
            self.connection.close()
            self.connection.request("POST" if body else "GET", path, body, self.headers)
            response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}: {data[:300]!r}")
        answer = json.loads(data)
        if answer.get("errors"):
            raise RuntimeError(f"{path}: {answer['errors']}")
        return answer

    def repeat(self, path: str, body: bytes | None, n: int) -> None:
        for _ in range(n):
            self.call(path, body)

    def close(self) -> None:
        self.connection.close()


def graphql_queries(p: dict[str, str]) -> dict[str, tuple[str, dict[str, str], str]]:
    """The GraphQL suite's three queries (its names), each with the plain endpoint's path."""
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


async def cpu_per_request(pid: int, client: Http, path: str, body: bytes | None, n: int) -> float:
    """The serving process's CPU per request over `n` requests one at a time, in us."""
    await asyncio.to_thread(client.repeat, path, body, WARM_REQUESTS)
    cpu = cpu_seconds([pid])
    await asyncio.to_thread(client.repeat, path, body, n)
    return (cpu_seconds([pid]) - cpu) / n * 1e6


async def graphql_requests(ctx: BenchContext, n: int) -> list[Figure]:
    url = ctx.read_model_url or await project_read_model(ctx.client, ctx.loaded.last_seq)
    p = pick_parameters(url)
    engine = make_engine(url)
    analyze(engine)  # the gateway's planner statistics, as the GraphQL suite gathers them
    engine.dispose()
    secret = secrets.token_hex(32)
    token = coordinator_token(secret)
    scratch = tempfile.mkdtemp(prefix="bench-costs-")
    out = os.path.join(scratch, "gateway.prof")
    env = {"BENCH_READ_MODEL_URL": url, SECRET_ENV: secret}
    gport, pport = free_port(), free_port()
    gateway = serve_workers(
        env | {MODULE_ENV: "bench.gateway_app", OUT_ENV: out}, gport, 1, module="bench.profiled"
    )[0]
    plain = serve_workers(env, pport, 1, module="bench.plain_app")[0]
    ours, theirs = Http(gport, token), Http(pport)
    figures: list[Figure] = []
    try:
        for name, (query, variables, path) in graphql_queries(p).items():
            before = load()
            body = json.dumps({"query": query, "variables": variables}).encode()
            same = await asyncio.to_thread(ours.call, "/graphql", body) == await asyncio.to_thread(
                theirs.call, path
            )
            gateway_us = await cpu_per_request(gateway.pid, ours, "/graphql", body, n)
            plain_us = await cpu_per_request(plain.pid, theirs, path, None, n)
            done = out + "." + str(len(figures))

            async def poke(body: bytes = body) -> None:
                await asyncio.to_thread(ours.call, "/graphql", body)

            await switched(gateway.pid, signal.SIGUSR1, out + ".on", poke)
            await asyncio.to_thread(ours.repeat, "/graphql", body, n)
            await switched(gateway.pid, signal.SIGUSR2, out, poke)
            os.replace(out, done)  # the process writes each profile to `out`
            os.unlink(out + ".on")
            figures.append(
                cost_figure(
                    f"GraphQL {name}: CPU per request, the gateway process",
                    "request",
                    gateway_us,
                    PLAIN,
                    plain_us,
                    n,
                    pstats.Stats(done),
                    before,
                    note=(
                        "One gateway worker (`bench.gateway_app`), one request at a time over one"
                        " kept-alive connection, its CPU from /proc"
                        + ("" if same else "; ANSWERS DIFFER from the plain endpoint's")
                    ),
                    same_json=same,
                )
            )
    finally:
        ours.close()
        theirs.close()
        stop(gateway)
        stop(plain)
        shutil.rmtree(scratch, ignore_errors=True)
    return figures
