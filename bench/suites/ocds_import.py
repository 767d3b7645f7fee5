"""`audit ocds import`'s code path against the registry service on JetStream: releases/s and
events/s, beside a raw JetStream publish of the very events the import appended, at the
importer's concurrency (processes in flight; each process's releases one after another; the
processes in flight sent as group commits, `ImportReleaseGroup`). Two floors beside it: the
same events as raw atomic batches of up to a thousand (what a group commit appends), and one
atomic batch per command (what the per-command path appended).

Import and raw publish alternate in rounds against the same registry process(es) (helper
import21): each round imports fresh processes, then publishes the events it appended raw at
16 and at the importer's concurrency in flight (the order turning round by round; the faster
is the round's yardstick). The figures are the median round's; every round's rates, the
ratio over all rounds and the CPU per event of each process are in the figure's `extra`.

The input is generated: processes of four releases each (tender, pending award, contract
signed with the award made definitive, an amendment), parties with KVK numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from bench.context import BenchContext
from bench.figures import Figure
from bench.gc_window import GcWindow
from bench.workload import RAW_STREAM, closed_loop, ensure_raw_stream

RELEASES_PER_PROCESS = 4
TARGET = 0.3  # issue 17: import events/s at least 0.3x raw JetStream append


def _at(start: datetime, days: int) -> str:
    return (start + timedelta(days=days)).isoformat().replace("+00:00", "Z")


def package(processes: int, prefix: str = "ocds-bench01") -> bytes:
    """A release package of `processes` ordinary processes (ocids `<prefix>-<n>`)."""
    releases: list[dict[str, Any]] = []
    for p in range(processes):
        start = datetime(2020, 1, 6, 9, tzinfo=UTC) + timedelta(days=p % 300)
        buyer = {"id": f"NL-KVK-{10_000_000 + p % 50}", "name": f"Gemeente {p % 50}"}
        firm = {"id": f"NL-KVK-{20_000_000 + p % 400}", "name": f"Leverancier {p % 400}"}
        parties = [{**buyer, "roles": ["buyer"]}, {**firm, "roles": ["supplier"]}]
        tender = {"id": "t", "title": f"Opdracht {p}", "status": "active",
                  "procurementMethod": "open", "procuringEntity": buyer,
                  "tenderPeriod": {"startDate": _at(start, 0)}}  # fmt: skip
        base = {"ocid": f"{prefix}-{p:06d}", "initiationType": "tender", "buyer": buyer,
                "parties": parties, "tender": tender}  # fmt: skip
        award = {"id": "a1", "status": "pending", "date": _at(start, 40),
                 "suppliers": [{"id": firm["id"]}]}  # fmt: skip
        contract: dict[str, Any] = {"id": "c1", "awardID": "a1", "status": "active",
                    "dateSigned": _at(start, 65),
                    "period": {"startDate": _at(start, 90), "endDate": _at(start, 900)},
                    "value": {"amount": 100_000 + p, "currency": "EUR"}}  # fmt: skip
        amended = {**contract, "period": {**contract["period"], "endDate": _at(start, 1200)}}
        releases += [
            {**base, "id": f"{p}-1", "date": _at(start, 0), "tag": ["tender"]},
            {**base, "id": f"{p}-2", "date": _at(start, 40), "tag": ["award"],
             "awards": [award]},
            {**base, "id": f"{p}-3", "date": _at(start, 65), "tag": ["contract"],
             "awards": [{**award, "status": "active"}], "contracts": [contract]},
            {**base, "id": f"{p}-4", "date": _at(start, 400), "tag": ["contractAmendment"],
             "awards": [{**award, "status": "active"}], "contracts": [amended]},
        ]  # fmt: skip
    body = {"uri": "https://ocds.example.org/bench.json", "version": "1.1",
            "publishedDate": "2026-01-01T00:00:00Z", "publisher": {"name": "bench"},
            "releases": releases}  # fmt: skip
    return json.dumps(body).encode()


async def run(ctx: BenchContext) -> list[Figure]:
    from audit.ocds.importer import CONCURRENCY, prepare
    from eventstore.clock import SystemClock
    from eventstore.group_append import MAX_BATCH
    from eventstore.store import EventStore

    processes = max(100, ctx.config.commands_per_level // 3)
    rounds = ROUNDS.get(ctx.config.mode, 3)
    # Loaded once per importer process, as `audit ocds import` does at its start, beside
    # its module imports (neither is in the timed window): the 1-process run paid them
    # inside it, the 2-process run found them loaded (helper import12).
    prepare()
    client_store = EventStore(ctx.client, SystemClock())
    js = ctx.client.jetstream()
    await ensure_raw_stream(js)
    # The registry in processes of its own, as every deployment runs it beside the CLI: one,
    # then two (a group message goes to either, the unpartitioned subject's queue group), each
    # import on processes of its own (fresh ocids). Import and raw append alternate, round by
    # round, in the same registry's life (helper import21): a round imports `processes`
    # fresh processes, then publishes the very events it appended raw; the figure is the
    # median round. One import of 2,400 events against one raw run of ~0.15 s read 7k-19k
    # ev/s on the raw side between quiet runs: one short sample decided the ratio.
    series: dict[int, Series] = {}
    kept: list[tuple[str, bytes]] = []
    stored_for_floors: list[Any] = []
    for count in (1, 2):
        async with registry_process(ctx, count) as cpu_seconds:
            series[count] = Series(count)
            for r in range(rounds):
                data = package(processes, f"ocds-bench{count:02d}r{r:02d}")
                got, stored = await _import_round(ctx, data, client_store, cpu_seconds)
                bodies = [(e.subject, e.envelope.model_dump_json().encode()) for e in stored]
                raw = await _raw_round(ctx, js, bodies, r, cpu_seconds)
                series[count].rounds.append(Round(**got, **raw))
                if count == 1 and not kept:
                    kept, stored_for_floors = bodies, stored
    one, two = series[1], series[2]
    # The same events as the store appends them: each command's events in one atomic batch.
    groups: dict[str, list[tuple[str, bytes]]] = {}
    for e, body in zip(stored_for_floors, kept, strict=True):
        groups.setdefault(e.envelope.command_id, []).append(body)
    # (the first PER_COMMAND commands': one synced commit each, ~100-450/s, took 5-25 s for
    # all 1,200 of a quick round; a floor, not the target's yardstick)
    batches = list(groups.values())[:PER_COMMAND]
    per_command_events = sum(len(b) for b in batches)
    await _ensure_atomic_stream(js)

    async def append(_w: int, i: int) -> None:
        await _atomic_publish(ctx.client, batches[i])

    atomic = await closed_loop(CONCURRENCY, len(batches), append)
    atomic_rate = per_command_events / atomic.seconds
    # As a group commit lays them out: consecutive events, up to a thousand per batch, two
    # batches in flight (one group is mapped and decided while one is stored).
    chunks = [kept[i : i + MAX_BATCH] for i in range(0, len(kept), MAX_BATCH)]

    async def append_chunk(_w: int, i: int) -> None:
        await _atomic_publish(ctx.client, chunks[i])

    grouped = await closed_loop(2, len(chunks), append_chunk)
    grouped_rate = len(kept) / grouped.seconds
    rate = one.import_rate  # the median round's, as the headline figure
    return [
        _figure(one, processes),
        _figure(two, processes, one=one.import_rate),
        Figure(
            "ocds-import",
            "import, beside the group commit's own floor",
            "events/s",
            round(rate, 1),
            f"raw JetStream atomic batches of the same events, up to {MAX_BATCH} per batch",
            round(grouped_rate, 1),
            note=f"{len(chunks):,} batches of {len(kept):,} events (the first round's); the"
            f" median import round {rate / grouped_rate if grouped_rate else 0:.2f}x these"
            " appends alone",
            extra={"batches": len(chunks), "events": len(kept)},
        ),
        Figure(
            "ocds-import",
            "import, beside the per-command path's floor",
            "events/s",
            round(rate, 1),
            "raw JetStream atomic batch append of the same events, one batch per command",
            round(atomic_rate, 1),
            note=f"{len(batches):,} batches of {per_command_events:,} events (the first round's"
            " first commands); the median import round"
            f" {rate / atomic_rate if atomic_rate else 0:.2f}x the atomic appends alone (an"
            " atomic batch commit is synced to disk; a plain publish is not)",
            extra={"batches": len(batches), "events": per_command_events},
        ),
    ]


# Alternating import and raw rounds per registry count: odd, so that one round is the median
# (import24: full had fewer than quick).
ROUNDS = {"quick": 5, "full": 7}
PER_COMMAND = 300  # commands appended one atomic batch each, for the per-command floor
RAW_IN_FLIGHT = (16, 0)  # 0: the importer's CONCURRENCY; the faster of the two is the yardstick


class Round(NamedTuple):
    """One import of fresh processes and the raw publish of the events it appended."""

    events: int
    releases: int
    seconds: float  # the import's wall
    importer_cpu: float  # seconds
    registry_cpu: float  # seconds, all registry processes
    registry_cpu_each: list[float]
    server_cpu: float  # seconds, the nats-server in the import's window
    raw_rates: dict[int, float]  # events/s per raw in-flight count
    raw_server_cpu: float  # seconds, the nats-server in the raw runs' windows, per raw run
    raw_client_cpu: float  # seconds, the publishing (bench) process, per raw run
    raw_registry_cpu: float  # seconds: the idle registry's during the raw runs
    gcs: dict[str, Any]
    skipped: list[Any]

    @property
    def import_rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def raw_rate(self) -> float:
        return max(self.raw_rates.values(), default=0.0)

    @property
    def ratio(self) -> float:
        return self.import_rate / self.raw_rate if self.raw_rate else 0.0


def median(values: list[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count)."""
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


@dataclass
class Series:
    """A registry count's rounds; its figures are the median round's: the round whose ratio
    (its import beside its own raw runs) is the median of the rounds' (the lower of the two
    middle ones for an even count). Its import and raw rates are the figure's value and
    baseline, so that their quotient is the ratio the target is tested on (import24: they
    were the medians of each, a quotient no round measured)."""

    registry_processes: int
    rounds: list[Round] = field(default_factory=list)

    def median_round(self) -> Round:
        if not self.rounds:
            raise ValueError("median of nothing")
        ordered = sorted(self.rounds, key=lambda r: r.ratio)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def import_rate(self) -> float:
        return self.median_round().import_rate

    @property
    def raw_rate(self) -> float:
        return self.median_round().raw_rate

    @property
    def ratio(self) -> float:
        return self.median_round().ratio

    def total_ratio(self) -> float:
        """All rounds' events over all their import seconds, against the same for raw (the
        faster raw method per round): the warm first round counted in full."""
        events = sum(r.events for r in self.rounds)
        imported = sum(r.seconds for r in self.rounds)
        raw = sum(r.events / r.raw_rate for r in self.rounds if r.raw_rate)
        return (events / imported) / (events / raw) if imported and raw else 0.0

    def per_event_ms(self, field_name: str) -> float:
        events = sum(r.events for r in self.rounds)
        total = sum(getattr(r, field_name) for r in self.rounds)
        return round(1000 * total / events, 3) if events else 0.0

    def cpu_ratio(self) -> float:
        """Raw's CPU per event (publisher and server) over the import's (importer, registry
        and server)."""
        ours = sum(r.importer_cpu + r.registry_cpu + r.server_cpu for r in self.rounds)
        raw = sum(r.raw_client_cpu + r.raw_server_cpu for r in self.rounds)
        return round(raw / ours, 3) if ours else 0.0

    def spread(self) -> dict[str, Any]:
        return {
            "round_ratios": [round(r.ratio, 3) for r in self.rounds],
            "round_import_rates": [round(r.import_rate, 1) for r in self.rounds],
            "round_raw_rates": [round(r.raw_rate, 1) for r in self.rounds],
            # (importer, registry, server) CPU ms per event, round by round: the first
            # round's warming shows here
            "round_cpu_ms_per_event": [
                [
                    round(1000 * c / r.events, 3) if r.events else 0.0
                    for c in (r.importer_cpu, r.registry_cpu, r.server_cpu)
                ]
                for r in self.rounds
            ],
        }

    def raw_by_method(self) -> dict[str, list[float]]:
        """Each raw method's rate per round, and which went first (the order turns)."""
        methods = sorted({n for r in self.rounds for n in r.raw_rates})
        return {
            **{
                f"at_{n}": [round(r.raw_rates.get(n, 0.0), 1) for r in self.rounds] for n in methods
            },
            "first": [next(iter(r.raw_rates), 0) for r in self.rounds],
        }


async def _import_round(
    ctx: BenchContext, data: bytes, store: Any, cpu_seconds: Callable[[], list[float]]
) -> tuple[dict[str, Any], list[Any]]:
    """One import of `data` timed; what it cost each process, and the events it stored."""
    from audit.ocds.importer import collector_for_import, import_items
    from audit.ocds.importer_read import read
    from contracts_schema.subjects import REGISTRY
    from eventstore.serving import request_reply

    first_seq = await store.last_seq(REGISTRY) + 1
    started = time.perf_counter()
    cpu_before, importer_cpu = cpu_seconds(), time.process_time()
    server_before = _server_cpu(ctx)
    profiler = _profiler()
    # The collector as `audit ocds import` sets it for its run (import14).
    with collector_for_import(), GcWindow() as gc_window:
        items = list(read(data, "bench"))
        report = await import_items(
            items,
            lambda subject, payload: request_reply(ctx.client, subject, payload, timeout=120),
            store,
        )
    seconds = time.perf_counter() - started
    importer_cpu = time.process_time() - importer_cpu
    each = [b - a for a, b in zip(cpu_before, cpu_seconds(), strict=True)]
    server_cpu = _server_cpu(ctx) - server_before
    if profiler is not None:  # the importer's side (this process), beside the registry's
        profiler.disable()
        profiler.dump_stats(f"{os.environ['BENCH_PROFILE']}/importer-{len(each)}-{first_seq}.prof")
    stored = [e async for e in store.read_stream(REGISTRY, first_seq)]
    got = {
        "events": report.events,
        "releases": report.imported,
        "seconds": seconds,
        "importer_cpu": importer_cpu,
        "registry_cpu": sum(each),
        "registry_cpu_each": [round(c, 2) for c in each],
        "server_cpu": server_cpu,
        "gcs": gc_window.summary(),
        "skipped": report.skipped,
    }
    return got, stored


async def _raw_round(
    ctx: BenchContext,
    js: Any,
    bodies: list[tuple[str, bytes]],
    round_number: int,
    cpu_seconds: Callable[[], list[float]],
) -> dict[str, Any]:
    """The round's events published raw at each in-flight count, in an order that turns
    round by round (neither runs always first after the import)."""
    from audit.ocds.importer import CONCURRENCY

    async def publish(_w: int, i: int) -> None:
        subject, body = bodies[i]
        await js.publish("benchraw." + subject, body, stream=RAW_STREAM)

    rates: dict[int, float] = {}
    server_before, registry_before = _server_cpu(ctx), sum(cpu_seconds())
    client_before = time.process_time()
    for in_flight in raw_order(round_number):
        in_flight = in_flight or CONCURRENCY
        done = await closed_loop(in_flight, len(bodies), publish)
        rates[in_flight] = done.rate
    return {
        "raw_rates": rates,
        # per publish of each event (each event is published once per in-flight count)
        "raw_server_cpu": (_server_cpu(ctx) - server_before) / len(rates),
        "raw_client_cpu": (time.process_time() - client_before) / len(rates),  # this process
        "raw_registry_cpu": sum(cpu_seconds()) - registry_before,
    }


def raw_order(round_number: int) -> tuple[int, ...]:
    """The raw in-flight counts for a round, turned every other round."""
    return RAW_IN_FLIGHT if round_number % 2 == 0 else RAW_IN_FLIGHT[::-1]


def _figure(series: Series, processes: int, one: float | None = None) -> Figure:
    from audit.ocds.importer import CONCURRENCY, GROUP

    rounds = series.rounds
    two = series.registry_processes > 1
    events_per_s, raw_rate, ratio = series.import_rate, series.raw_rate, series.ratio
    releases_per_s = median([r.releases / r.seconds for r in rounds if r.seconds])
    events = sum(r.events for r in rounds)
    skipped = [s for r in rounds for s in r.skipped]
    ratios = sorted(r.ratio for r in rounds)
    note = (
        f"median of {len(rounds)} rounds, each {processes:,} fresh processes imported"
        f" ({rounds[0].releases:,} releases, {rounds[0].events:,} events) then their events"
        f" published raw: {releases_per_s:,.0f} releases/s; round ratios"
        f" {ratios[0]:.2f}-{ratios[-1]:.2f}x, median {ratio:.2f}x (the target's test), all rounds"
        f" {series.total_ratio():.2f}x; CPU ms per event importer"
        f" {series.per_event_ms('importer_cpu')}, registry {series.per_event_ms('registry_cpu')},"
        f" nats-server {series.per_event_ms('server_cpu')} (raw: publisher"
        f" {series.per_event_ms('raw_client_cpu')}, nats-server"
        f" {series.per_event_ms('raw_server_cpu')}; CPU ratio {series.cpu_ratio():.2f}x)"
        + (f"; {one and events_per_s / one:.2f}x the one-process import" if one else "")
        + (f"; {len(skipped)} skipped: {skipped[0]}" if skipped else "")
    )
    name = (
        f"import against two registry processes, {RELEASES_PER_PROCESS} releases per process,"
        f" {CONCURRENCY} processes in flight"
        if two
        else f"import, {RELEASES_PER_PROCESS} releases per process, {CONCURRENCY} processes in"
        f" flight, up to {GROUP} per group commit"
    )
    return Figure(
        "ocds-import",
        name,
        "events/s",
        round(events_per_s, 1),
        "raw JetStream publish of the same events, the same rounds (the faster of"
        f" {CONCURRENCY} and 16 in flight)",
        round(raw_rate, 1),
        target=f">= {TARGET}x raw JetStream append",
        target_met=ratio >= TARGET,
        note=note,
        extra={
            "registry_processes": series.registry_processes,
            "rounds": len(rounds),
            "releases_per_s": round(releases_per_s, 1),
            "releases": sum(r.releases for r in rounds),
            "events": events,
            "skipped": len(skipped),
            # The median round's ratio, its import beside its own raw runs: the figure's
            # value/baseline (that round's rates).
            "ratio": round(ratio, 3),
            "ratio_all_rounds": round(series.total_ratio(), 3),
            **series.spread(),
            "round_raw_rates_by_in_flight": series.raw_by_method(),
            "raw_publish_in_flight": round(median([r.raw_rates[CONCURRENCY] for r in rounds]), 1),
            "raw_publish_at_16": round(median([r.raw_rates[16] for r in rounds]), 1),
            # CPU per event, independent of how busy the shared machine was.
            "importer_cpu_ms_per_event": series.per_event_ms("importer_cpu"),
            "registry_cpu_ms_per_event": series.per_event_ms("registry_cpu"),
            "nats_server_cpu_ms_per_event": series.per_event_ms("server_cpu"),
            "raw_nats_server_cpu_ms_per_event": series.per_event_ms("raw_server_cpu"),
            "raw_client_cpu_ms_per_event": series.per_event_ms("raw_client_cpu"),
            # All the machine's CPU per event, ours against raw: the throughput ratio two
            # free cores would allow if both sides were CPU-bound (no load in it).
            "cpu_ratio": series.cpu_ratio(),
            "registry_cpu_during_raw_s": round(sum(r.raw_registry_cpu for r in rounds), 2),
            "registry_cpu_s_each": [
                round(sum(r.registry_cpu_each[n] for r in rounds), 2)
                for n in range(series.registry_processes)
            ],
            "gc_rounds": [r.gcs for r in rounds],
        },
    )


@contextlib.asynccontextmanager
async def registry_process(
    ctx: BenchContext, count: int = 1
) -> AsyncIterator[Callable[[], list[float]]]:
    """`count` processes of `python -m bootstrap.serve registry` on the bench's server, until
    the block ends; gives a function reading each one's CPU seconds so far."""
    import nats.errors

    from contracts_schema.subjects import REGISTRY
    from eventstore.partitions import HANDOVER, HEARTBEAT
    from eventstore.serving import request_reply

    data_dir = tempfile.mkdtemp(prefix="bench-registry-")
    env = {**os.environ, "GT_NATS_URL": ctx.nats.url, "GT_DATA_DIR": data_dir}
    # BENCH_PROFILE=DIR: the registry runs under cProfile, its profile written to DIR.
    profile = os.environ.get("BENCH_PROFILE")
    # Each process says it is alive on the members subject once its command subscriptions
    # are made: serving when `count` of them were heard.
    heard: set[str] = set()

    async def on_member(msg: Any) -> None:
        heard.add(msg.subject.rsplit(".", 1)[-1])

    members = await ctx.client.subscribe(REGISTRY.members_subjects, cb=on_member)
    children = []
    for n in range(count):
        run = ["-m", "bootstrap.serve", "registry"]
        if profile:  # CPU time, not wall time: the shared machine's waits are not charged
            run = ["-c", _PROFILED.format(path=f"{profile}/registry-{count}-{n}.prof")]
        children.append(await asyncio.create_subprocess_exec(sys.executable, *run, env=env))

    def cpu_seconds() -> list[float]:
        each = []
        for child in children:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
            each.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
        return each

    try:
        subject = REGISTRY.command_subject("ImportReleaseGroup")
        # (a registry process imports its modules for seconds of CPU: on the shared two
        # cores at load 20 that once took over a minute)
        deadline = time.monotonic() + 240
        while True:  # serving once its subscription answers (a refusal of an empty message)
            try:
                await request_reply(ctx.client, subject, b"{}", timeout=10)
                if len(heard) >= count:
                    break
            except nats.errors.NoRespondersError:
                pass
            if any(c.returncode is not None for c in children) or time.monotonic() > deadline:
                raise RuntimeError("the registry processes did not start")
            await asyncio.sleep(0.2)
        if count > 1:
            # Heard of one another, the members split the partitions between them (a
            # heartbeat, then a handover): until then a partition may be any member's.
            await asyncio.sleep(HEARTBEAT + HANDOVER + 1.0)
        yield cpu_seconds
    finally:
        await members.unsubscribe()
        for child in children:
            if child.returncode is None:
                child.terminate()
        for child in children:
            await asyncio.wait_for(child.wait(), timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def _server_cpu(ctx: BenchContext) -> float:
    """The bench's nats-server's CPU seconds so far (user + system), from /proc: the server
    does as much work per imported event as a registry process can (its reads, its
    appends), and no figure of the two Python processes shows it."""
    process = getattr(ctx.nats, "_process", None)
    if process is None:  # not a server this bench started: not measured
        return 0.0
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_PROFILED = """
import cProfile, runpy, sys, time
sys.argv = ["bootstrap.serve", "registry"]
profiler = cProfile.Profile(time.process_time)
try:
    profiler.runcall(runpy.run_module, "bootstrap.serve", run_name="__main__", alter_sys=True)
finally:
    profiler.dump_stats({path!r})
"""


def _profiler() -> Any:
    """A running cProfile profiler when BENCH_PROFILE names a directory, else None."""
    if not os.environ.get("BENCH_PROFILE"):
        return None
    import cProfile

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    return profiler


ATOMIC_STREAM = "BENCHRAWATOMIC"


async def _ensure_atomic_stream(js: Any) -> None:
    from nats.js.api import StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    # The event store's settings that matter here: file storage, atomic batches allowed.
    config = StreamConfig(name=ATOMIC_STREAM, subjects=["benchatomic.>"],
                          storage=StorageType.FILE, allow_atomic=True)  # fmt: skip
    try:
        await js.stream_info(ATOMIC_STREAM)
    except NotFoundError:
        await js.add_stream(config)


async def _atomic_publish(nc: Any, batch: list[tuple[str, bytes]]) -> None:
    """One batch as `EventStore.append` sends it (without the expected-sequence check)."""
    if len(batch) == 1:
        subject, body = batch[0]
        await nc.request("benchatomic." + subject, body, timeout=30)
        return
    batch_id = uuid.uuid4().hex
    for index, (subject, body) in enumerate(batch, start=1):
        headers = {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(index)}
        if index < len(batch):
            await nc.publish("benchatomic." + subject, body, headers=headers)
            continue
        headers["Nats-Batch-Commit"] = "1"
        reply = json.loads((await nc.request("benchatomic." + subject, body, headers=headers,
                                             timeout=30)).data)  # fmt: skip
        if "error" in reply:
            raise RuntimeError(f"atomic batch refused: {reply['error']}")
