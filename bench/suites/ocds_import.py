"""`audit ocds import`'s code path against the registry service on JetStream: releases/s and
events/s, beside a raw JetStream publish of the very events the import appended, at the
importer's concurrency (processes in flight; each process's releases one after another; the
processes in flight sent as group commits, `ImportReleaseGroup`). Two floors beside it: the
same events as raw atomic batches of up to a thousand (what a group commit appends), and one
atomic batch per command (what the per-command path appended).

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
    from audit.ocds.importer import (
        CONCURRENCY,
        GROUP,
        collector_for_import,
        import_items,
        prepare,
    )
    from audit.ocds.importer_read import read
    from contracts_schema.subjects import REGISTRY
    from eventstore.clock import SystemClock
    from eventstore.group_append import MAX_BATCH
    from eventstore.serving import request_reply
    from eventstore.store import EventStore

    processes = max(100, ctx.config.commands_per_level // 3)
    # Loaded once per importer process, as `audit ocds import` does at its start, beside
    # its module imports (neither is in the timed window): the 1-process run paid them
    # inside it, the 2-process run found them loaded (helper import12).
    prepare()
    clock = SystemClock()
    client_store = EventStore(ctx.client, clock)
    # The registry in processes of its own, as every deployment runs it beside the CLI: one,
    # then two (a group message goes to either, the unpartitioned subject's queue group), each
    # import on processes of its own (fresh ocids).
    runs: dict[int, _Run] = {}
    for count, prefix in ((1, "ocds-bench01"), (2, "ocds-bench02")):
        data = package(processes, prefix)
        async with registry_process(ctx, count) as cpu_seconds:
            first_seq = await client_store.last_seq(REGISTRY) + 1
            started = time.perf_counter()
            cpu_before, importer_cpu = cpu_seconds(), time.process_time()
            server_before = _server_cpu(ctx)
            profiler = _profiler()
            # The collector as `audit ocds import` sets it for its run (import14).
            with collector_for_import(), GcWindow() as gc_window:
                items = list(read(data, "bench"))
                report = await import_items(
                    items,
                    lambda subject, payload: request_reply(
                        ctx.client, subject, payload, timeout=120
                    ),
                    client_store,
                )
            if profiler is not None:  # the importer's side (this process), beside the registry's
                profiler.disable()
                profiler.dump_stats(f"{os.environ['BENCH_PROFILE']}/importer-{count}.prof")
            seconds = time.perf_counter() - started
            each = [b - a for a, b in zip(cpu_before, cpu_seconds(), strict=True)]
            runs[count] = _Run(
                report, seconds, sum(each), time.process_time() - importer_cpu, first_seq,
                [round(c, 2) for c in each], _server_cpu(ctx) - server_before,
                gc_window.summary(),
            )  # fmt: skip
    report, seconds, registry_cpu, importer_cpu, first_seq, _each, server_cpu, gcs = runs[1]
    stored = [
        e async for e in client_store.read_stream(REGISTRY, first_seq) if e.seq < runs[2].first_seq
    ]
    bodies = [(e.subject, e.envelope.model_dump_json().encode()) for e in stored]
    js = ctx.client.jetstream()
    await ensure_raw_stream(js)

    async def publish(_w: int, i: int) -> None:
        subject, body = bodies[i]
        await js.publish("benchraw." + subject, body, stream=RAW_STREAM)

    raw = await closed_loop(CONCURRENCY, len(bodies), publish)
    raw16 = await closed_loop(16, len(bodies), publish)  # the previous rounds' concurrency
    # The same events as the store appends them: each command's events in one atomic batch.
    groups: dict[str, list[tuple[str, bytes]]] = {}
    for e, body in zip(stored, bodies, strict=True):
        groups.setdefault(e.envelope.command_id, []).append(body)
    batches = list(groups.values())
    await _ensure_atomic_stream(js)

    async def append(_w: int, i: int) -> None:
        await _atomic_publish(ctx.client, batches[i])

    atomic = await closed_loop(CONCURRENCY, len(batches), append)
    atomic_rate = len(bodies) / atomic.seconds
    # As a group commit lays them out: consecutive events, up to a thousand per batch, two
    # batches in flight (one group is mapped and decided while one is stored).
    chunks = [bodies[i : i + MAX_BATCH] for i in range(0, len(bodies), MAX_BATCH)]

    async def append_chunk(_w: int, i: int) -> None:
        await _atomic_publish(ctx.client, chunks[i])

    grouped = await closed_loop(2, len(chunks), append_chunk)
    grouped_rate = len(bodies) / grouped.seconds
    events_per_s = report.events / seconds
    # The yardstick is the faster of the two raw runs: one raw run that stalled (a sync, a
    # neighbour) once read 6.7k events/s against 20k at 16 in flight and made 0.44x of 0.14x.
    raw_rate = max(raw.rate, raw16.rate)
    ratio = events_per_s / raw_rate if raw_rate else 0.0
    note = (
        f"{report.imported:,} releases of {processes:,} processes in {seconds:.1f} s"
        f" ({report.imported / seconds:,.0f} releases/s), {report.events:,} events;"
        f" CPU {importer_cpu:.2f} s importer, {registry_cpu:.2f} s registry,"
        f" {server_cpu:.2f} s nats-server;"
        f" {ratio:.2f}x raw"
        + (f"; {len(report.skipped)} skipped: {report.skipped[0]}" if report.skipped else "")
    )
    return [
        Figure(
            "ocds-import",
            f"import, {RELEASES_PER_PROCESS} releases per process, {CONCURRENCY} processes in"
            f" flight, up to {GROUP} per group commit",
            "events/s",
            round(events_per_s, 1),
            f"raw JetStream publish of the same events (the faster of {CONCURRENCY} and 16"
            " in flight)",
            round(raw_rate, 1),
            target=f">= {TARGET}x raw JetStream append",
            target_met=ratio >= TARGET,
            note=note,
            extra={
                "releases_per_s": round(report.imported / seconds, 1),
                "releases": report.imported,
                "events": report.events,
                "skipped": len(report.skipped),
                "ratio": round(ratio, 3),
                "raw_publish_in_flight": round(raw.rate, 1),
                "raw_publish_at_16": round(raw16.rate, 1),
                # CPU per event, independent of how busy the shared machine was.
                "importer_cpu_ms_per_event": round(1000 * importer_cpu / report.events, 3),
                "registry_cpu_ms_per_event": round(1000 * registry_cpu / report.events, 3),
                "nats_server_cpu_ms_per_event": round(1000 * server_cpu / report.events, 3),
                "ratio_to_raw_at_16": round(events_per_s / raw16.rate if raw16.rate else 0.0, 3),
                **gcs,
            },
        ),
        _two_processes(runs[2], raw_rate, raw16.rate, events_per_s),
        Figure(
            "ocds-import",
            "import, beside the group commit's own floor",
            "events/s",
            round(events_per_s, 1),
            f"raw JetStream atomic batches of the same events, up to {MAX_BATCH} per batch",
            round(grouped_rate, 1),
            note=f"{len(chunks):,} batches of {len(bodies):,} events; import"
            f" {events_per_s / grouped_rate if grouped_rate else 0:.2f}x these appends alone",
            extra={"batches": len(chunks), "events": len(bodies)},
        ),
        Figure(
            "ocds-import",
            "import, beside the per-command path's floor",
            "events/s",
            round(events_per_s, 1),
            "raw JetStream atomic batch append of the same events, one batch per command",
            round(atomic_rate, 1),
            note=f"{len(batches):,} batches of {len(bodies):,} events; import"
            f" {events_per_s / atomic_rate if atomic_rate else 0:.2f}x the atomic appends alone"
            " (an atomic batch commit is synced to disk; a plain publish is not)",
            extra={"batches": len(batches), "events": len(bodies)},
        ),
    ]


class _Run(NamedTuple):
    report: Any  # audit.ocds.importer.Report
    seconds: float
    registry_cpu: float  # seconds, all registry processes
    importer_cpu: float
    first_seq: int  # the stream's first sequence of this import
    cpu_each: list[float]  # seconds, per registry process
    server_cpu: float  # seconds, the nats-server (everyone's work on it in those seconds)
    gcs: dict[str, Any]  # what the collector did in the bench process in the window


def _two_processes(run: _Run, raw: float, raw16: float, one: float) -> Figure:
    from audit.ocds.importer import CONCURRENCY

    report, seconds, registry_cpu, importer_cpu, _first, cpu_each, server_cpu, gcs = run
    events_per_s = report.events / seconds
    ratio = events_per_s / raw if raw else 0.0
    return Figure(
        "ocds-import",
        f"import against two registry processes, {RELEASES_PER_PROCESS} releases per process,"
        f" {CONCURRENCY} processes in flight",
        "events/s",
        round(events_per_s, 1),
        "raw JetStream publish of the same events (the faster of two runs)",
        round(raw, 1),
        target=f">= {TARGET}x raw JetStream append",
        target_met=ratio >= TARGET,
        note=f"{report.imported:,} releases in {seconds:.1f} s"
        f" ({report.imported / seconds:,.0f} releases/s), {report.events:,} events;"
        f" CPU {importer_cpu:.2f} s importer, {registry_cpu:.2f} s both registry processes,"
        f" {server_cpu:.2f} s nats-server;"
        f" {ratio:.2f}x raw; {events_per_s / one if one else 0:.2f}x the one-process import"
        + (f"; {len(report.skipped)} skipped: {report.skipped[0]}" if report.skipped else ""),
        extra={
            "registry_processes": 2,
            "registry_cpu_s_each": cpu_each,  # both took groups: the work is spread
            "releases_per_s": round(report.imported / seconds, 1),
            "releases": report.imported,
            "events": report.events,
            "skipped": len(report.skipped),
            "ratio": round(ratio, 3),
            "ratio_to_raw_at_16": round(events_per_s / raw16 if raw16 else 0.0, 3),
            "importer_cpu_ms_per_event": round(1000 * importer_cpu / report.events, 3),
            "registry_cpu_ms_per_event": round(1000 * registry_cpu / report.events, 3),
            "nats_server_cpu_ms_per_event": round(1000 * server_cpu / report.events, 3),
            **gcs,
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
