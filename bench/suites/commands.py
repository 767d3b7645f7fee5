"""(1) Command throughput and p50/p99 through the command API, against raw async publishes.

Two routes at each concurrency: the benchmark's minimal route (bench/workload.py: the
command machinery with a trivial rule) and the registry service's real `AmendContract`
route (its validation, aggregate load and fold over the generated history, rules, append).
The baseline publishes the very envelopes the commands produced, to a twin stream with the
same storage settings, at the same concurrency: what JetStream alone costs.

Then: the bench route on aggregates with 10 to 10,000 prior events (cost flat in length:
the first command loads and folds once, later ones use the cached fold), and the registry
route served by one and by two service processes of their own (`python -m bootstrap.serve
registry`), one at a time and at the highest concurrency. Commands are partitioned by
aggregate (`eventstore.partitions`): with two processes each serves half the partitions, so
a contract's commands meet one process and its warm cache.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import socket
import subprocess
import sys
import tempfile
import time as clock_time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from nats.aio.client import Client as NATS

from bench.config import Config
from bench.figures import Figure, latency_ms, not_measured, percentile
from bench.history.model import History
from bench.loader import SEEDS, SIGNERS, public_keys
from bench.workload import (
    BENCH,
    COMMANDS,
    RAW_STREAM,
    AmendContract,
    closed_loop,
    ensure_raw_stream,
)
from bootstrap.parts import command_service, registry_service
from contracts_schema.base import Command
from contracts_schema.registry import commands as cmd
from contracts_schema.subjects import REGISTRY, BoundedContext
from eventstore.clock import SystemClock
from eventstore.collector import tune_for_serving
from eventstore.records import CommandMetadata, NewEvent
from eventstore.service_app import serve_in_process, server_url
from eventstore.serving import send_command
from eventstore.signing import PUBLIC_KEYS_ENV
from eventstore.store import EventStore

DAY0 = date(2020, 1, 1)
MakeCommand = Callable[[int, int, int], Command]  # (concurrency, worker, i) -> command


def running_contracts(history: History) -> list[tuple[str, datetime]]:
    """Contracts of the history still running at its end (signed, never expired nor
    terminated), each with the latest valid time among its facts: an amendment dated then is
    accepted and decided on the cached fold, as nearly every command is (`valid_order`). (One
    dated on the signature day, before a later expiry or amendment, is backdated: decided on a
    fresh load of the history, and refused where the contract has expired since.)"""
    latest: dict[str, datetime] = {}
    ended: set[str] = set()
    for commit in history.commits:
        if commit.aggregate_type != "contract":
            continue
        for e in commit.events:
            if e.event_type in ("ContractExpired", "ContractTerminated"):
                ended.add(commit.aggregate_id)
            if commit.aggregate_id not in latest or e.occurred_at > latest[commit.aggregate_id]:
                latest[commit.aggregate_id] = e.occurred_at
    return sorted((k, v) for k, v in latest.items() if k not in ended)


def registry_amendment(
    contracts: Sequence[tuple[str, datetime]], c: int, w: int, i: int
) -> Command:
    """Command i of worker w of c (`running_contracts`): each worker owns its own contracts
    (w, w + c, ...), no write conflicts by design (more workers than contracts share them)."""
    mine = contracts[w::c] or contracts[w % len(contracts) :: len(contracts)]
    contract_id, latest = mine[(i // c) % len(mine)]
    return cmd.AmendContract(
        command_id=f"reg-amend-{c}-{i}",
        contract_id=contract_id,
        summary="indexation",
        occurred_at=latest,
    )


def registry_imported_amendment(
    contracts: Sequence[tuple[str, datetime]], c: int, w: int, i: int
) -> Command:
    """A command that emits two events, as real commands do (one fact and its provenance):
    the published release of an amendment of a running contract (`running_contracts`),
    recorded through the general command route (`RecordImportedContractRelease` emits the
    release's facts, then `ContractReleaseImported`). Its events are appended together, all or
    none: one atomic batch, which `AmendContract`'s single event never is."""
    mine = contracts[w::c] or contracts[w % len(contracts) :: len(contracts)]
    contract_id, latest = mine[(i // c) % len(mine)]
    amended = {
        "contract_id": contract_id,
        "amended_on": str(latest.date()),
        "summary": "indexation",
    }
    release = f"bench-{c}-{i}"
    return cmd.RecordImportedContractRelease(
        command_id=f"reg-imported-{c}-{i}",
        contract_id=contract_id,
        ocid=f"ocds-bench-{contract_id}",
        release_id=release,
        release_date=latest,
        publisher="bench",
        facts=[cmd.ImportedFact(event_type="ContractAmended", payload=amended)],
        occurred_at=latest,
    )


async def run(client: NATS, service_nc: NATS, config: Config, history: History) -> list[Figure]:
    clock = SystemClock()
    # Signed as each service signs what it appends (the readers refuse an unsigned history).
    store = EventStore(service_nc, clock, signers=SIGNERS)
    # The containers' FastStream subscriber, with room for the benchmark's concurrency.
    broker = await serve_in_process(
        service_nc,
        [command_service(COMMANDS, store, clock), registry_service(store, clock)],
        max_workers=256,
    )
    await ensure_raw_stream(client.jetstream())
    contracts = running_contracts(history)

    def bench_command(c: int, w: int, i: int) -> Command:
        return AmendContract(
            command_id=f"amend-{c}-{i}",
            contract_id=f"K{c}-{w}-{i % 7}",
            summary="indexation",
            amended_on=DAY0 + timedelta(days=i),
        )

    registry_command = functools.partial(registry_amendment, contracts)
    imported_command = functools.partial(registry_imported_amendment, contracts)

    figures: list[Figure] = []
    reader = EventStore(client, clock)
    # The in-process rows run the service as a service process runs it: with its collector
    # thresholds (`run_app` sets them; cmd17 measured Python's defaults 6-11% more CPU per
    # command at c64). The bench's own client and the raw baseline share this process and
    # these settings; the suites after this one get Python's back.
    thresholds = gc.get_threshold()
    tune_for_serving()
    try:
        for c in config.concurrencies:
            figures += await level(client, reader, BENCH, "bench route", bench_command, c, config)
            figures += await level(
                client, reader, REGISTRY, "registry AmendContract", registry_command, c, config
            )
            figures += await level(
                client, reader, REGISTRY, MULTI_EVENT_ROUTE, imported_command, c, config
            )
        try:
            figures += await by_length(client, store, config)
        except Exception as exc:  # the figures above stay (a busy machine timed one out)
            figures.append(
                not_measured("commands", "bench route by aggregate length", "ms", "", f"{exc!r}")
            )
    finally:
        gc.set_threshold(*thresholds)
        await broker.stop()
    # The registry in processes of its own (the in-process one above is gone): 1, then 2.
    # Each first takes one unmeasured command per contract (its cache filled as in steady
    # operation; the in-process figures above ran warm too).
    top = max(config.concurrencies)
    nats_pid = broker_pid(client)
    try:
        for processes in (1, 2):
            with registry_processes(server_url(client), processes) as running:
                await wait_served(client)
                label = (
                    f"registry AmendContract, {processes} service process{'es' * (processes > 1)}"
                )

                def own_ids(c: int, w: int, i: int, p: int = processes, tag: str = "") -> Command:
                    command = registry_command(c, w, i)
                    update = {"command_id": f"{tag}p{p}-{command.command_id}"}
                    return command.model_copy(update=update)

                async def warm(w: int, i: int, p: int = processes) -> None:
                    await send_command(
                        client, REGISTRY, own_ids(top, w, i, p, "warm-"), actor="bench"
                    )

                await closed_loop(top, len(contracts), warm)
                pids = [p.pid for p, _port in running]
                ports = [port for _p, port in running]
                for c in (1, top):
                    figures += await level(
                        client,
                        reader,
                        REGISTRY,
                        label,
                        own_ids,
                        c,
                        config,
                        pids,
                        nats_pid,
                        functools.partial(append_conflicts, ports),
                    )
    except Exception as exc:  # the in-process figures above stay (a busy machine)
        figures.append(
            not_measured(
                "commands", "registry AmendContract in service processes", "cmd/s", "", f"{exc!r}"
            )
        )
    return figures


def broker_pid(client: NATS) -> int | None:
    """The pid of the nats-server the client is connected to (listening on its port)."""
    at = client.connected_url
    port = str(at.port) if at is not None else ""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args and args[0].endswith("nats-server") and port in args:
            return int(entry)
    return None


MULTI_EVENT_ROUTE = "registry RecordImportedContractRelease (2 events per command)"
MULTI_EVENT_NOTE = (
    "a command's events are appended as one atomic batch: on this one-replica file stream the"
    " broker stages each batch in a file store of its own (`python -m bench.atomic_commit`);"
    " a stream of 3 replicas, as deployed, stages it in memory"
)
LENGTHS = (10, 100, 1_000, 10_000)
PREFILL_BATCH = 100  # events per atomic append while building the long aggregates
START_TIMEOUT = 180.0  # seconds a registry process may take to start (60 was short when busy)
COLD_TIMEOUT = 120.0  # seconds the first command on a long aggregate may take


async def by_length(client: NATS, store: EventStore, config: Config) -> list[Figure]:
    """The bench route at concurrency 1 on aggregates of 10 .. 10,000 prior events."""
    p50: dict[int, float] = {}
    cold: dict[int, float] = {}
    n = max(100, config.commands_per_level // 2)
    for length in LENGTHS:
        contract_id = f"long-{length}"
        history = await store.load(BENCH, "contract", contract_id)
        for start in range(0, length, PREFILL_BATCH):
            events = [
                NewEvent(
                    "ContractAmended",
                    1,
                    {"contract_id": contract_id, "summary": "prefill", "amended_on": str(DAY0)},
                    datetime.combine(DAY0, time(12), tzinfo=UTC),
                )
                for _ in range(min(PREFILL_BATCH, length - start))
            ]
            meta = CommandMetadata(f"prefill-{length}-{start}", "bench", f"prefill-{length}")
            await store.append(history, events, meta)
            history = await store.load(BENCH, "contract", contract_id)

        async def amend(
            _w: int, i: int, contract_id: str = contract_id, timeout: float = 10.0
        ) -> None:
            command = AmendContract(
                command_id=f"{contract_id}-{i}",
                contract_id=contract_id,
                summary="indexation",
                amended_on=DAY0 + timedelta(days=i),
            )
            reply = await send_command(client, BENCH, command, actor="bench", timeout=timeout)
            if reply.status != "accepted":
                raise RuntimeError(f"{command.command_id}: {reply}")

        # The cold command reads and checks every signature of 10,000 events: on a busy
        # machine that took longer than a request's 10 s (the suite failed, all figures lost).
        loading = functools.partial(amend, timeout=COLD_TIMEOUT)

        first = await closed_loop(1, 1, loading)  # loads, checks and folds the whole history once
        cold[length] = first.latencies[0] * 1000
        run = await closed_loop(1, n, lambda w, i: amend(w, i + 1))
        p50[length] = percentile(run.latencies, 50) * 1000
    figures = []
    for length in LENGTHS:
        ratio = p50[length] / p50[LENGTHS[0]]
        figures.append(
            Figure(
                "commands",
                f"bench route at {length:,} prior events: latency p50, concurrency 1",
                "ms",
                round(p50[length], 3),
                f"the same at {LENGTHS[0]} prior events",
                round(p50[LENGTHS[0]], 3),
                higher_is_better=False,
                target="<= 1.5x the 10-event p50",
                target_met=ratio <= 1.5,
                note=f"first command (cold: load and fold the history once) {cold[length]:.1f} ms",
            )
        )
    return figures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def append_conflicts(ports: Sequence[int]) -> float:
    """Appends refused for a stale expected sequence, over the service processes (their
    /metrics): another process wrote the aggregate since this one cached it."""
    total = 0.0
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            for line in page.read().decode().splitlines():
                if line.startswith("gt_append_conflicts_total{"):
                    total += float(line.rsplit(" ", 1)[1])
    return total


@contextmanager
def registry_processes(
    nats_url: str,
    count: int,
    module: str = "bootstrap.serve",
    extra_env: dict[str, str] | None = None,
) -> Iterator[list[tuple[subprocess.Popen[bytes], int]]]:
    """`count` registry services as the containers run them (commands partitioned between
    them), each with its metrics port. `module`/`extra_env`: a bench's own entry point that
    serves as `bootstrap.serve` does with a change switched on (`bench.c1_ab_process`)."""
    data = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    env = {**os.environ, "GT_NATS_URL": nats_url, "GT_DATA_DIR": str(data)}
    # Signing as the bench signs (its readers refuse what their context's key did not sign).
    env |= {"GT_SIGNING_SEED": SEEDS["registry"], PUBLIC_KEYS_ENV: public_keys()}
    logs = [data / f"registry-{i}.log" for i in range(count)]
    ports = [free_port() for _ in logs]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", module, "registry"],
            env={
                **env,
                **(extra_env or {}),
                "GT_METRICS_HOST": "127.0.0.1",
                "GT_METRICS_PORT": str(port),
            },
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        for log, port in zip(logs, ports, strict=True)
    ]
    try:
        deadline = clock_time.monotonic() + START_TIMEOUT
        while not all("started successfully" in log.read_text(errors="replace") for log in logs):
            if clock_time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"registry processes did not start: see {data}")
            clock_time.sleep(0.2)
        yield list(zip(processes, ports, strict=True))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds: the whole machine's busy time (all cores), the service processes', the
    broker's and this process's (the bench client). The rest of the machine's busy time is
    whatever else runs beside the bench (the machine is shared)."""

    machine: float
    services: float
    broker: float
    client: float
    wall: float = 0.0

    @classmethod
    def now(cls, pids: Sequence[int], broker: int | None) -> CpuUse:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        idle = ticks[3] + ticks[4]  # idle + iowait
        own = os.times()
        return cls(
            (sum(ticks) - idle) / TICKS,
            sum(_process_cpu(pid) for pid in pids),
            _process_cpu(broker) if broker else 0.0,
            own.user + own.system,
        )

    def since(self, before: CpuUse, wall: float) -> CpuUse:
        return CpuUse(
            self.machine - before.machine,
            self.services - before.services,
            self.broker - before.broker,
            self.client - before.client,
            wall,
        )

    def as_json(self, n: int) -> dict[str, float]:
        ours = self.services + self.broker + self.client
        return {
            "cores": os.cpu_count() or 1,
            "machine_busy_cores": round(self.machine / self.wall, 2),
            "services_cores": round(self.services / self.wall, 2),
            "broker_cores": round(self.broker / self.wall, 2),
            "client_cores": round(self.client / self.wall, 2),
            "other_work_cores": round(max(0.0, self.machine - ours) / self.wall, 2),
            "services_cpu_us_per_command": round(self.services / n * 1e6),
        }

    def describe(self, n: int) -> str:
        j = self.as_json(n)
        return (
            f"CPU during the run: machine {j['machine_busy_cores']} of {j['cores']} cores busy;"
            f" service processes {j['services_cores']}, broker {j['broker_cores']}, bench"
            f" client {j['client_cores']}, other work on the machine {j['other_work_cores']};"
            f" {j['services_cpu_us_per_command']} us service CPU per command"
        )


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def wait_served(client: NATS) -> None:
    """Until the registry answers (an unknown command is answered, not timed out)."""
    for _ in range(50):
        try:
            await client.request(REGISTRY.command_subject("Probe"), b"{}", timeout=1)
            return
        except Exception:
            await asyncio.sleep(0.2)


async def level(
    client: NATS,
    store: EventStore,
    context: BoundedContext,
    route: str,
    make: MakeCommand,
    c: int,
    config: Config,
    services: Sequence[int] = (),
    broker: int | None = None,
    conflicts: Callable[[], float] | None = None,
) -> list[Figure]:
    """One route at one concurrency; `services`: the pids of service processes of their own,
    whose CPU is reported beside the machine's (can more processes use more CPU?)."""
    js = client.jetstream()
    n = config.commands_per_level
    first_seq = await store.last_seq(context) + 1
    rejected: list[str] = []

    async def command(w: int, i: int) -> None:
        reply = await send_command(client, context, make(c, w, i), actor="bench")
        if reply.status != "accepted":
            rejected.append(reply.code)

    conflicts_before = conflicts() if conflicts else 0.0
    before = CpuUse.now(services, broker)
    commands = await closed_loop(c, n, command)
    cpu = CpuUse.now(services, broker).since(before, commands.seconds)
    stale_count = conflicts() - conflicts_before if conflicts else None
    stale = f"{stale_count:g} append conflicts" if stale_count is not None else None
    # Per command, its envelopes (one, or several for a multi-event command): the baseline
    # publishes each command's events one after the other, as a plain publisher would.
    per_command: dict[str, list[tuple[str, bytes]]] = {}
    async for e in store.read_stream(context, first_seq):
        body = e.envelope.model_dump_json().encode()
        per_command.setdefault(e.envelope.command_id, []).append((e.subject, body))
    bodies = list(per_command.values())

    async def publish(_w: int, i: int) -> None:
        for subject, body in bodies[i]:
            await js.publish("benchraw." + subject, body, stream=RAW_STREAM)

    raw = await closed_loop(c, len(bodies), publish)
    figures = [
        Figure(
            "commands",
            f"{route}: throughput, concurrency {c}",
            "cmd/s",
            round(commands.rate, 1),
            "raw JetStream publish of the same envelopes",
            round(raw.rate, 1),
            note="; ".join(
                ([f"{len(rejected)} rejected: {sorted(set(rejected))}"] if rejected else [])
                + ([MULTI_EVENT_NOTE] if route == MULTI_EVENT_ROUTE else [])
                + ([cpu.describe(n)] if services else [])
                + ([stale] if stale else [])
            ),
            extra=({"cpu": cpu.as_json(n)} if services else {})
            | ({"append_conflicts": stale_count} if stale_count is not None else {}),
        )
    ]
    ours, theirs = latency_ms(commands.latencies), latency_ms(raw.latencies)
    for p in ("p50_ms", "p99_ms"):
        figures.append(
            Figure(
                "commands",
                f"{route}: latency {p[:3]}, concurrency {c}",
                "ms",
                ours[p],
                "raw JetStream publish",
                theirs[p],
                higher_is_better=False,
            )
        )
    if route.startswith("registry AmendContract"):
        # The targets: p50 <= 5x raw at concurrency 1, throughput >= 0.3x raw at 64.
        # Met only with every command accepted: a refusal is not the route measured, and the
        # baseline publishes only what was appended.
        if c == 1:
            figures[1].target = "<= 5x raw publish"
            figures[1].target_met = not rejected and ours["p50_ms"] <= 5 * theirs["p50_ms"]
        if c >= 64:
            figures[0].target = ">= 0.3x raw publish"
            figures[0].target_met = not rejected and commands.rate >= 0.3 * raw.rate
    return figures
