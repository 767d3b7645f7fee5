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

Each figure and its baseline are the least of alternating rounds (ours, then the baseline's,
five times: on a shared machine a burst lands in some rounds, not all), without a profiler; a
further round of two rounds' items runs under cProfile by the serving thread's CPU time
(`bench.profiled` switches it on in a service process) and gives the top five functions by own
time and the top five of the project's own code by cumulative time, per item
(`bench.cost.top_entries`). The profile slows what it watches: its times are for where the CPU
goes, the figure for how much.
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
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

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
    cpu_seconds,
    graphql_queries,
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
ROUNDS = 5  # alternating rounds of each side: the figure and its baseline are their least
CONTRACTS = 200  # running contracts the commands take in turn (quick: 38), each warmed once
PROFILED_ROUNDS = 2  # the profiled round: as many items as this many rounds
START_TIMEOUT = 180.0  # a service process's start on a busy machine
SWITCH_TIMEOUT = 60.0  # a profile switched on or written
WAIT = 60.0  # seconds a reply may take: bounds a hang (at load 20 one took over 10 s)


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def cost_figure(
    name: str,
    per: str,
    rounds: Sequence[tuple[float, float]],
    baseline_name: str,
    measured: int,
    profile: pstats.Stats | None,
    profiled: int,
    load_before: Sequence[float],
    note: str = "",
    **extra: Any,
) -> Figure:
    """One cost as the results keep it: CPU in us per `per` ("command", "request") and its
    baseline's, each its least in alternating `rounds` (ours, the baseline's: a shared
    machine's bursts only add CPU, to some rounds and not all); in `extra` the rounds, the items
    measured, the load, and the top entries of a profile of `profiled` items."""
    return Figure(
        SUITE,
        name,
        "us",
        round(min(r[0] for r in rounds), 1),
        baseline_name,
        round(min(r[1] for r in rounds), 1),
        higher_is_better=False,
        note=note,
        extra={
            "per": per,
            "measured": measured,
            "rounds": [[round(a, 1), round(b, 1)] for a, b in rounds],
            "load": {"before": list(load_before), "after": load()},
            "profile": None if profile is None else top_entries(profile, profiled),
            **extra,
        },
    )


async def run(ctx: BenchContext) -> list[Figure]:
    n = ctx.config.cost_samples
    figures: list[Figure] = []
    contracts = running_contracts(ctx.history)[:CONTRACTS]
    parts: list[tuple[str, Callable[[], Awaitable[list[Figure]]]]] = [
        ("command in process", lambda: command_in_process(ctx, contracts, n)),
        ("command in a service process", lambda: command_in_service(ctx, contracts, n)),
        ("GraphQL requests", lambda: graphql_requests(ctx, n)),
    ]
    for what, part in parts:
        try:
            figures += await part()
        except Exception as exc:  # the parts measured stay (a busy machine timed one out)
            figures.append(not_measured(SUITE, what, "us", "", f"{type(exc).__name__}: {exc}"))
    return figures


def amendment(contracts: list[tuple[str, datetime]], tag: str, i: int) -> Command:
    command = registry_amendment(contracts, 1, 0, i)
    return command.model_copy(update={"command_id": f"cost-{tag}-{i}"})


async def amend_all(
    client: NATS, contracts: list[tuple[str, datetime]], tag: str, numbers: range
) -> None:
    for i in numbers:
        command = amendment(contracts, tag, i)
        reply = await send_command(client, REGISTRY, command, actor="bench", timeout=WAIT)
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
    k = max(1, n // ROUNDS)
    rounds = []
    try:
        before = load()
        warm = len(contracts)  # every contract taken once: its fold cached
        await amend_all(ctx.client, contracts, "in", range(warm))
        for r in range(ROUNDS):  # alternating: k commands, then raw publishes of their events
            first_seq = await reader.last_seq(REGISTRY) + 1
            cpu = time.process_time()
            await amend_all(ctx.client, contracts, "in", range(warm + r * k, warm + (r + 1) * k))
            per_command = (time.process_time() - cpu) / k * 1e6
            rounds.append((per_command, await raw_publish_cpu(ctx.client, reader, first_seq, k)))
        start = warm + ROUNDS * k
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        await amend_all(ctx.client, contracts, "in", range(start, start + k * PROFILED_ROUNDS))
        profile.disable()
    finally:
        await broker.stop()
        gc.set_threshold(*thresholds)
    return [
        cost_figure(
            f"{ROUTE}: CPU per command, client and service in this process",
            "command",
            rounds,
            RAW,
            k * ROUNDS,
            pstats.Stats(profile),
            k * PROFILED_ROUNDS,
            before,
            note="On the bench's asyncio loop, with a service process's collector thresholds",
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
        await js.publish(subject, body, stream=RAW_STREAM, timeout=WAIT)
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

    reader = EventStore(client, SystemClock())
    k = max(1, n // ROUNDS)
    rounds, clients, brokers = [], [], []
    try:
        with registry_process(server_url(client), out) as service:
            await wait_served(client)
            before = load()
            warm = len(contracts)
            await amend_all(client, contracts, "proc", range(warm))
            for r in range(ROUNDS):  # alternating: k commands, then raw publishes of their events
                first_seq = await reader.last_seq(REGISTRY) + 1
                own, broker_cpu = os.times(), _process_cpu(nats) if nats else 0.0
                service_cpu = cpu_seconds([service.pid])
                await amend_all(client, contracts, "proc", range(warm + r * k, warm + (r + 1) * k))
                service_us = (cpu_seconds([service.pid]) - service_cpu) / k * 1e6
                after = os.times()
                clients.append((after.user + after.system - own.user - own.system) / k * 1e6)
                brokers.append(((_process_cpu(nats) - broker_cpu) / k * 1e6) if nats else 0.0)
                rounds.append((service_us, await raw_publish_cpu(client, reader, first_seq, k)))
            start = warm + ROUNDS * k
            await switched(service.pid, signal.SIGUSR1, out + ".on", poke)
            await amend_all(client, contracts, "proc", range(start, start + k * PROFILED_ROUNDS))
            await switched(service.pid, signal.SIGUSR2, out, poke)
            profile = pstats.Stats(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    client_us, broker_us = statistics.median(clients), statistics.median(brokers)  # as spent
    return [
        cost_figure(
            f"{ROUTE}: CPU per command, the service process alone",
            "command",
            rounds,
            RAW,
            k * ROUNDS,
            profile,
            k * PROFILED_ROUNDS,
            before,
            note=(
                f"Served by `python -m bootstrap.serve registry` (uvloop), its CPU from /proc;"
                f" meanwhile the client (this process) {client_us:,.0f} us and the broker"
                f" {f'{broker_us:,.0f} us' if nats else 'n/a'} per command (medians)"
            ),
            client_cpu_us=round(client_us, 1),
            broker_cpu_us=round(broker_us, 1) if nats else None,
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


async def cpu_per_request(pid: int, client: Http, path: str, body: bytes | None, n: int) -> float:
    """The serving process's CPU per request over `n` requests one at a time, in us."""
    cpu = cpu_seconds([pid])
    await asyncio.to_thread(client.repeat, path, body, n)
    return (cpu_seconds([pid]) - cpu) / n * 1e6


async def graphql_requests(ctx: BenchContext, n: int) -> list[Figure]:
    if ctx.read_model_url is not None:  # the replay suite's rebuild
        return await graphql_on(ctx.read_model_url, n)
    url = await project_read_model(ctx.client, ctx.loaded.last_seq)  # run without it: our own
    try:
        return await graphql_on(url, n)
    finally:
        shutil.rmtree(os.path.dirname(url.removeprefix("sqlite:///")), ignore_errors=True)


async def graphql_on(url: str, n: int) -> list[Figure]:
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
            await asyncio.to_thread(ours.repeat, "/graphql", body, WARM_REQUESTS)
            await asyncio.to_thread(theirs.repeat, path, None, WARM_REQUESTS)
            k = max(1, n // ROUNDS)
            rounds = [
                (
                    await cpu_per_request(gateway.pid, ours, "/graphql", body, k),
                    await cpu_per_request(plain.pid, theirs, path, None, k),
                )
                for _ in range(ROUNDS)
            ]
            done = out + "." + str(len(figures))

            async def poke(body: bytes = body) -> None:
                await asyncio.to_thread(ours.call, "/graphql", body)

            await switched(gateway.pid, signal.SIGUSR1, out + ".on", poke)
            await asyncio.to_thread(ours.repeat, "/graphql", body, k * PROFILED_ROUNDS)
            await switched(gateway.pid, signal.SIGUSR2, out, poke)
            os.replace(out, done)  # the process writes each profile to `out`
            os.unlink(out + ".on")
            figures.append(
                cost_figure(
                    f"GraphQL {name}: CPU per request, the gateway process",
                    "request",
                    rounds,
                    PLAIN,
                    k * ROUNDS,
                    pstats.Stats(done),
                    k * PROFILED_ROUNDS,
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
