"""(6) As-of latency against history length: the gateway's real app answering `asOf` on read
models built from 10k, 100k (and, in `make bench-asof-1m`, 1M) generated events, beside the
present query on the same data, both measured in the same run.

The read models are built directly: the generated history is sealed into stored events as
`EventStore.append` would seal it (`bench.direct`) and applied through each gateway
projection's own runner batch path (`ProjectionRunner.apply_batch`), without NATS. A past
answer in the gateway is a predicate on row versions (`ReadModels.at`), so nothing here
replays history per request. The gateway runs in its own uvicorn process; wrk drives it.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, event, inspect, text

from bench.config import Config
from bench.direct import build_read_models, stored_events
from bench.figures import Figure, not_measured
from bench.gateway_app import SECRET_ENV, coordinator_token
from bench.history.generator import generate
from bench.suites.graphql import fetch, measured, post_script, serve, stop
from bench.wrk import WrkResult, parse
from eventstore.nats_launcher import free_port
from eventstore.sql import make_engine
from eventstore.timeline import FOREVER
from gateway.projections import (
    ContractsProjection,
    EnrolmentProjection,
    EventLogProjection,
    TendersProjection,
)

LIST = """query Tenders($asOf: Date) {
  tenders(asOf: $asOf, filter: {phase: [PUBLISHED, PROVISIONALLY_AWARDED, AWARDED]}, first: 20) {
    totalCount
    edges { node { tenderId title phase plannedOn publishedOn } }
  }
}"""
SINGLE = """query Tender($id: String!, $asOf: Date) {
  tender(tenderId: $id, asOf: $asOf) {
    tenderId title phase publishedOn
    lots { lotId title status bidCount supplierIds awardedOn }
  }
}"""
# The statistics and the filtered counts: aggregates over a whole table's versions, the
# roots whose cost grew with the history after the list roots were made flat.
PARTICIPATION = """query P($asOf: Date) { statistics(asOf: $asOf) {
  participation { participating municipalities programmes rate } } }"""
BY_PROGRAMME = """query P($asOf: Date) { statistics(asOf: $asOf) {
  participationByProgramme { key participating municipalities rate } } }"""
BY_PROGRAMME_AND_PROVINCE = """query P($asOf: Date) { statistics(asOf: $asOf) {
  participationByProgrammeAndProvince { programmeId province participating municipalities } } }"""
# The same for one programme (asof18): a fixed-size answer. Every programme's grows with the
# history (the generator's programmes share one calendar: 10x the events, ~10x as many
# programmes taking part on a day), so only this one can be flat in it.
ONE_PROGRAMME = """query P($asOf: Date, $p: String) { statistics(asOf: $asOf) {
  participationByProgramme(programmeId: $p) { key participating municipalities rate } } }"""
ONE_PROGRAMME_BY_PROVINCE = """query P($asOf: Date, $p: String) { statistics(asOf: $asOf) {
  participationByProgrammeAndProvince(programmeId: $p) {
    programmeId province participating municipalities } } }"""
CONTRACTS = """query C($asOf: Date, $filter: ContractFilter) {
  contracts(asOf: $asOf, filter: $filter, first: 20) {
    totalCount edges { node { contractId kind status endDate } }
  }
}"""
EVENTS = """query E($asOf: Date, $filter: EventFilter) {
  events(asOf: $asOf, filter: $filter, first: 20) {
    totalCount edges { node { eventId eventType occurredAt } }
  }
}"""
# The log as it was known at a past instant: the count takes the known-time rule
# (readmodels.known_by_horizon), asked of the stored counts at a past horizon (asof11).
EVENTS_KNOWN = """query E($asOf: Date, $knownAt: DateTime) {
  events(asOf: $asOf, knownAt: $knownAt, first: 20) {
    totalCount edges { node { eventId eventType occurredAt } }
  }
}"""
CONNECTIONS = 4  # latency, not throughput: a few requests in flight


@dataclass(frozen=True)
class Dataset:
    events: int
    url: str
    build_s: float
    tender: str
    as_of: str  # a past valid date inside the history
    supplier: str  # the supplier with the most contracts
    buyer: str  # the municipality with the most participations
    organisation: str  # the municipality most events concern
    programme: str  # the programme with the most municipalities taking part on the middle day


TENDERS = TendersProjection().key  # tenders_v<version>
CONTRACTS_V = ContractsProjection().key
ENROLMENT = EnrolmentProjection().key
EVENT_LOG = EventLogProjection().key


def _date(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1_000_000, UTC).date().isoformat()


# Where the read models are built (asof19): a tmpfs when it has room, else /tmp. asof18's 1M
# build on disk ran 27 min and wrote 1.05 of ~2.4 GB, waiting on the disk at ~10% of a core.
BUILD_DIR_ENV = "BENCH_ASOF_DIR"
TMPFS = "/dev/shm"
BYTES_PER_EVENT = 3_000  # the read models' file: ~2.4 GB at 1M events, 235 MB at 100k


def build_dir(events: int) -> str:
    """`$BENCH_ASOF_DIR`, else /dev/shm when it has room for the file (with a quarter spare),
    else /tmp. A file in /dev/shm is memory: the 1M read model needs ~2.5 GB of it beside the
    build process's own (the generated history; see `make bench-asof-1m`)."""
    chosen = os.environ.get(BUILD_DIR_ENV)
    if chosen:
        return chosen
    try:
        stat = os.statvfs(TMPFS)
    except OSError:
        return "/tmp"
    room = stat.f_bavail * stat.f_frsize
    return TMPFS if room > events * BYTES_PER_EVENT * 5 // 4 else "/tmp"


def throwaway(engine: Any) -> None:
    """A build that is thrown away if it fails need not survive a crash: no fsync, a large
    page cache. The gateway that later serves the file opens it with the product's pragmas."""

    @event.listens_for(engine, "connect")
    def _build_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()


def build(config: Config, events: int, say: Any = print) -> Dataset:
    history = generate(config.seed, events)
    streams = stored_events(history)
    del history
    url = f"sqlite:///{build_dir(events)}/bench-asof-{events}-{uuid.uuid4().hex[:8]}.db"
    engine = make_engine(url)
    throwaway(engine)
    try:
        built = build_read_models(engine, streams, batch=2_000)
    except BaseException:
        engine.dispose()
        _unlink(url)  # a tmpfs file is memory: never leave a failed build behind
        raise
    engine.dispose()
    say(f"  asof: {events:,} events built in {built.seconds:.1f} s ({built.parked} parked)")
    return describe(url, events, built.seconds)


def extend(config: Config, url: str, events: int, say: Any = print) -> list[str]:
    """Build into a kept read model (`build`'s, of the same seed and size) the gateway read
    models it lacks: a version added since it was built (asof19: event_counts v2 into a 1M
    read model built by v1). The read models it holds are left as they are."""
    from bootstrap.parts import projection_runner
    from gateway.projections import ALL

    engine = make_engine(url)
    throwaway(engine)
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
        missing = []
        for kind in ALL:
            tables = MetaData()
            projection = kind()
            projection.define(tables)
            if not set(tables.tables) <= present:
                missing.append(kind)
        if not missing:
            return []
        t = time.perf_counter()
        streams = stored_events(generate(config.seed, events))
        for kind in missing:
            runner = projection_runner(None, engine, kind(), batch=2_000)  # type: ignore[arg-type]
            runner.create_tables()
            for context in runner.projection.contexts:
                stream = streams.get(context.stream, [])
                for first in range(0, len(stream), 2_000):
                    runner.apply_batch(context.stream, list(stream[first : first + 2_000]))
        keys = [kind().key for kind in missing]
        say(f"  asof: {', '.join(keys)} built into {url} in {time.perf_counter() - t:.1f} s")
        return keys
    finally:
        engine.dispose()


def describe(url: str, events: int, build_s: float = 0.0) -> Dataset:
    """The roots' subjects in a read model built by `build` (kept, or built elsewhere)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        tender = conn.execute(
            text(
                f"SELECT tender_id FROM {TENDERS}_lots WHERE known_to = :forever"
                " GROUP BY tender_id ORDER BY count(DISTINCT lot_id) DESC, 1 LIMIT 1"
            ),
            {"forever": FOREVER},
        ).scalar_one()
        first_lot, last_lot = conn.execute(
            text(
                f"SELECT min(valid_from), max(valid_from) FROM {TENDERS}_lots WHERE tender_id = :t"
            ),
            {"t": tender},
        ).one()
        supplier, buyer, organisation = (
            conn.execute(text(sql)).scalar_one()
            for sql in (
                f"SELECT supplier_id FROM {CONTRACTS_V}_contract_suppliers"
                " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
                f"SELECT organisation_code FROM {ENROLMENT}_participants"
                " WHERE organisation_code LIKE 'GM%' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
                f"SELECT code FROM {EVENT_LOG}_event_orgs"
                " WHERE code LIKE 'GM%' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            )
        )
        low, high = conn.execute(
            text(f"SELECT min(valid_from), max(valid_from) FROM {TENDERS}_tenders")
        ).one()
        middle = (low + high) // 2
        programme = conn.execute(
            text(
                f"SELECT programme_id FROM {ENROLMENT}_programme_spans"
                " WHERE valid_from <= :d AND valid_to > :d AND organisation_code LIKE 'GM%'"
                " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            ),
            {"d": middle},
        ).scalar_one()
    engine.dispose()
    # The tender halfway through its own lots' valid time (the list: see `_middle`).
    as_of = _date((first_lot + last_lot) // 2)
    return Dataset(events, url, build_s, tender, as_of, supplier, buyer, organisation, programme)


def roots(data: Dataset, middle: str) -> dict[str, tuple[str, dict[str, Any], str]]:
    """Each root measured: its query, variables and the past date it is asked at."""
    return {
        "tenders(asOf, filter) first page of 20": (LIST, {}, middle),
        "tender(asOf) with nested lots": (SINGLE, {"id": data.tender}, data.as_of),
        "statistics.participation": (PARTICIPATION, {}, middle),
        "statistics.participationByProgramme": (BY_PROGRAMME, {}, middle),
        "statistics.participationByProgrammeAndProvince": (
            BY_PROGRAMME_AND_PROVINCE,
            {},
            middle,
        ),
        "statistics.participationByProgramme(programmeId)": (
            ONE_PROGRAMME,
            {"p": data.programme},
            middle,
        ),
        "statistics.participationByProgrammeAndProvince(programmeId)": (
            ONE_PROGRAMME_BY_PROVINCE,
            {"p": data.programme},
            middle,
        ),
        "contracts(asOf, filter: supplierId) totalCount + 20": (
            CONTRACTS,
            {"filter": {"supplierId": data.supplier}},
            middle,
        ),
        "contracts(asOf, filter: buyer) totalCount + 20": (
            CONTRACTS,
            {"filter": {"buyer": data.buyer}},
            middle,
        ),
        "contracts(asOf, filter: status ACTIVE) totalCount + 20": (
            CONTRACTS,
            {"filter": {"status": ["ACTIVE"]}},
            middle,
        ),
        "events(asOf, filter: organisationCode) totalCount + 20": (
            EVENTS,
            {"filter": {"organisationCode": data.organisation}},
            middle,
        ),
        "events(asOf) totalCount + 20": (EVENTS, {}, middle),
        # Known at the end of the middle day (its present: the same query with neither).
        "events(asOf, knownAt) totalCount + 20": (EVENTS_KNOWN, {}, middle),
    }


def _middle(url: str) -> str:
    """The middle of the history's valid time: where the list is asked."""
    engine = make_engine(url)
    with engine.connect() as conn:
        low, high = conn.execute(
            text(f"SELECT min(valid_from), max(valid_from) FROM {TENDERS}_tenders")
        ).one()
    engine.dispose()
    return _date((low + high) // 2)


ROUNDS = 3  # alternating samples of each (root, size, side); the median is reported
FLAT = 1.5  # flat: asOf p50 at the largest history <= 1.5x at the smallest


def sample_seconds(seconds: int, rounds: int = ROUNDS) -> int:
    """wrk's duration per sample: the rounds together take about twice one long run."""
    return max(2, round(2 * seconds / rounds))


@dataclass(frozen=True)
class Answer:
    """How big an answer is: what a latency depends on beside the history."""

    bytes: int
    items: int  # objects in it (list elements, nodes, the query's own objects)
    total: int | None  # the first totalCount in it, if asked

    def __str__(self) -> str:
        total = f", totalCount {self.total:,}" if self.total is not None else ""
        return f"{self.bytes:,} B, {self.items:,} items{total}"


def answer_size(answer: dict[str, Any]) -> Answer:
    totals: list[int] = []

    def walk(value: Any) -> int:
        if isinstance(value, dict):
            if isinstance(value.get("totalCount"), int):
                totals.append(value["totalCount"])
            return 1 + sum(walk(v) for v in value.values())
        if isinstance(value, list):
            return sum(walk(v) for v in value)
        return 0

    items = walk(answer.get("data"))
    return Answer(len(json.dumps(answer)), items, totals[0] if totals else None)


@dataclass(frozen=True)
class Sample:
    """One round's measurement of one root on one history: asOf, then the present."""

    events: int
    root: str
    round: int
    as_of: str
    variables: dict[str, Any]
    past: WrkResult
    present: WrkResult
    past_answer: Answer
    present_answer: Answer
    past_cpu_us: float  # the gateway's CPU per request answered
    present_cpu_us: float


@dataclass(frozen=True)
class Failure:
    events: int
    root: str
    why: str


# wrk's own request timeout is 2 s: at 1M events the present of the unfiltered per-programme
# statistics takes 1-2 s alone, so on a loaded machine every one of its requests timed out
# and the sample read "0.0 ms" (asof22). Long enough for the slowest root's request.
REQUEST_TIMEOUT_S = 60


def run_wrk_patient(url: str, seconds: int, connections: int, script: str) -> WrkResult:
    """`bench.wrk.run_wrk` with a request timeout of `REQUEST_TIMEOUT_S` (not wrk's 2 s)."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    args += ["--timeout", f"{REQUEST_TIMEOUT_S}s", "-s", script, url]
    out = subprocess.run(
        args, capture_output=True, text=True, timeout=seconds + REQUEST_TIMEOUT_S + 60, check=True
    )
    return parse(out.stdout)


def _measure(
    url: str, body: str, token: str, seconds: int, pid: int, run: Any = None
) -> tuple[WrkResult, Answer, float]:
    answer = fetch(url, body, token)
    if answer.get("errors"):
        raise RuntimeError(f"the gateway answered with errors: {json.dumps(answer)[:600]}")
    script = post_script(body, token)
    try:
        result, cpu_us = measured(
            [pid], seconds, run or run_wrk_patient, url, seconds, CONNECTIONS, script
        )
    finally:
        os.unlink(script)
    if result.requests_per_s <= 0 or result.p50_ms <= 0:
        # Not a latency of 0 ms: no request was answered in the sample (asof22).
        raise RuntimeError(
            f"no request answered in {seconds} s ({result.errors} failed or timed out"
            f" after {REQUEST_TIMEOUT_S} s)"
        )
    return result, answer_size(answer), cpu_us


@dataclass
class _Served:
    data: Dataset
    process: Any
    url: str
    middle: str


def measure_rounds(
    datasets: list[Dataset],
    seconds: int,
    rounds: int = ROUNDS,
    say: Any = print,
    only: tuple[str, ...] = (),
) -> list[Sample | Failure]:
    """Every root on every history, `rounds` times, alternating: the histories' gateways run
    side by side and each round measures one root on each history in turn (the order reversed
    every other round, asOf and present likewise), so a drift of the shared machine falls on
    every size alike instead of on whichever size was measured last."""
    secret = secrets.token_hex(32)
    token = coordinator_token(secret)
    served: list[_Served] = []
    out: list[Sample | Failure] = []
    try:
        for data in datasets:
            port = free_port()
            process = serve(
                "bench.gateway_app:create",
                {"BENCH_READ_MODEL_URL": data.url, SECRET_ENV: secret},
                port,
                "/healthz",
            )
            served.append(
                _Served(data, process, f"http://127.0.0.1:{port}/graphql", _middle(data.url))
            )
        names = [n for n in roots(datasets[0], "") if not only or any(o in n for o in only)]
        failed: set[tuple[int, str]] = set()
        for name in names:
            for r in range(rounds):
                order = served if r % 2 == 0 else served[::-1]
                for s in order:
                    if (s.data.events, name) in failed:
                        continue
                    query, variables, as_of = roots(s.data, s.middle)[name]
                    asked = {**variables, "asOf": as_of}
                    if query is EVENTS_KNOWN:
                        asked["knownAt"] = f"{as_of}T23:59:59+00:00"
                    past_body = json.dumps({"query": query, "variables": asked})
                    now_body = json.dumps({"query": query, "variables": variables})
                    pid = s.process.pid
                    try:
                        if r % 2 == 0:
                            past = _measure(s.url, past_body, token, seconds, pid)
                            now = _measure(s.url, now_body, token, seconds, pid)
                        else:
                            now = _measure(s.url, now_body, token, seconds, pid)
                            past = _measure(s.url, past_body, token, seconds, pid)
                    except (OSError, RuntimeError) as exc:  # one root's failure loses no other
                        failed.add((s.data.events, name))
                        out.append(Failure(s.data.events, name, f"{type(exc).__name__}: {exc}"))
                        continue
                    out.append(
                        Sample(
                            events=s.data.events,
                            root=name,
                            round=r,
                            as_of=as_of,
                            variables=variables,
                            past=past[0],
                            present=now[0],
                            past_answer=past[1],
                            present_answer=now[1],
                            past_cpu_us=past[2],
                            present_cpu_us=now[2],
                        )
                    )
                    say(
                        f"    {name} @ {s.data.events:,} (round {r + 1}): asOf p50/p99"
                        f" {past[0].p50_ms:.1f}/{past[0].p99_ms:.1f} ms, answer {past[1]};"
                        f" present {now[0].p50_ms:.1f}/{now[0].p99_ms:.1f} ms, answer {now[1]}"
                    )
    finally:
        for s in served:
            stop(s.process)
    return out


def _median(values: list[float]) -> float:
    return statistics.median(values)


def figures(samples: list[Sample | Failure], build_s: dict[int, float]) -> list[Figure]:
    """asOf against the present per root and size: each the median of its rounds."""
    out: list[Figure] = []
    done = [s for s in samples if isinstance(s, Sample)]
    keys = list(dict.fromkeys((s.root, s.events) for s in samples))
    for root, events in keys:
        failure = next(
            (f for f in samples if isinstance(f, Failure) and (f.root, f.events) == (root, events)),
            None,
        )
        mine = [s for s in done if (s.root, s.events) == (root, events)]
        if failure is not None or not mine:
            out += [
                not_measured(
                    "asof",
                    f"{root}: {what}, {events:,} events",
                    "ms",
                    "the present query (no asOf), same data",
                    (failure.why if failure else "no sample")[:300],
                )
                for what in ("p50", "p99")
            ]
            continue
        first = mine[0]
        errors = sum(s.past.errors + s.present.errors for s in mine)
        past_cpu = _median([s.past_cpu_us for s in mine])
        present_cpu = _median([s.present_cpu_us for s in mine])
        for what in ("p50", "p99"):
            pasts = [s.past.p50_ms if what == "p50" else s.past.p99_ms for s in mine]
            presents = [s.present.p50_ms if what == "p50" else s.present.p99_ms for s in mine]
            value, base = _median(pasts), _median(presents)
            out.append(
                Figure(
                    "asof",
                    f"{root}: {what}, {events:,} events",
                    "ms",
                    round(value, 3),
                    "the present query (no asOf), same data",
                    round(base, 3),
                    higher_is_better=False,
                    target="<= 2x present",
                    target_met=value <= 2 * base,
                    note=f"asOf {first.as_of}; median of {len(mine)} alternating rounds,"
                    f" {CONNECTIONS} conns; answer {first.past_answer}"
                    f" (present {first.present_answer}); gateway CPU/request"
                    f" {past_cpu:,.0f} us (present {present_cpu:,.0f})"
                    + (f"; {errors} failed requests" if errors else ""),
                    extra={
                        "as_of": first.as_of,
                        "variables": first.variables,
                        "events": events,
                        "build_s": round(build_s.get(events, 0.0), 1),
                        "rounds": [round(v, 3) for v in pasts],
                        "present_rounds": [round(v, 3) for v in presents],
                        "answer_bytes": first.past_answer.bytes,
                        "answer_items": first.past_answer.items,
                        "answer_total": first.past_answer.total,
                        "present_answer_items": first.present_answer.items,
                        "cpu_us": round(past_cpu, 1),
                        "present_cpu_us": round(present_cpu, 1),
                        "past_req_s": _median([s.past.requests_per_s for s in mine]),
                        "present_req_s": _median([s.present.requests_per_s for s in mine]),
                    },
                )
            )
    return out


def flatness(samples: list[Sample | Failure]) -> list[Figure]:
    """asOf latency at each larger history against the smallest: flat means a ratio near 1.

    Each figure is the median of the root's rounds at either size (the rounds alternate the
    sizes, so both medians come from the same minutes); the note gives each round's own ratio
    (the same round's two sizes, measured one after the other), the answers' sizes (a root
    whose answer grows with the history cannot be flat in it) and the gateway's CPU per
    request, which a loaded machine inflates less than latency."""
    done = [s for s in samples if isinstance(s, Sample)]
    out: list[Figure] = []
    sizes = sorted({s.events for s in done})
    if len(sizes) < 2:
        return out
    small = sizes[0]
    for root in dict.fromkeys(s.root for s in done):
        for large in sizes[1:]:
            a = {s.round: s for s in done if (s.root, s.events) == (root, small)}
            b = {s.round: s for s in done if (s.root, s.events) == (root, large)}
            both = sorted(set(a) & set(b))
            if not both:
                continue
            for what in ("p50", "p99"):

                def ms(s: Sample, what: str = what) -> float:
                    return s.past.p50_ms if what == "p50" else s.past.p99_ms

                low = _median([ms(a[r]) for r in both])
                high = _median([ms(b[r]) for r in both])
                per_round = [ms(b[r]) / ms(a[r]) for r in both if ms(a[r])]
                cpu_low = _median([a[r].past_cpu_us for r in both])
                cpu_high = _median([b[r].past_cpu_us for r in both])
                answer_low, answer_high = a[both[0]].past_answer, b[both[0]].past_answer
                grows = answer_high.items / answer_low.items if answer_low.items else 1.0
                note = (
                    f"medians of {len(both)} alternating rounds; per round"
                    f" {', '.join(f'{x:.2f}x' for x in per_round)}; answer {answer_low}"
                    f" -> {answer_high}"
                )
                if grows >= FLAT:
                    note += f" (grows {grows:.1f}x)"
                if answer_low.total and answer_high.total:
                    counted = answer_high.total / answer_low.total
                    if counted >= FLAT:
                        note += f" (totalCount grows {counted:.1f}x)"
                if cpu_low:
                    note += (
                        f"; gateway CPU/request {cpu_low:,.0f} -> {cpu_high:,.0f} us"
                        f" ({cpu_high / cpu_low:.2f}x)"
                    )
                name = f"{root}: asOf {what} at {large:,} events vs at {small:,}"
                target = "flat in history length"
                if grows >= FLAT:
                    # An answer that grows with the history (a list of every programme on
                    # the day) cannot take the same time: flat then means per row returned
                    # (asof19), the request's latency over the objects in its answer.
                    note += (
                        f"; whole request {low:.2f} -> {high:.2f} ms ({high / low:.2f}x)"
                        if low
                        else ""
                    )
                    low, high = low / answer_low.items, high / answer_high.items
                    name = (
                        f"{root}: asOf {what} per answer item at {large:,} events vs at {small:,}"
                    )
                    target = f"flat per row returned (the answer grows {grows:.1f}x)"
                out.append(
                    Figure(
                        "asof",
                        name,
                        "ms",
                        round(high, 3),
                        f"asOf {what} at {small:,} events" + (" per item" if grows >= FLAT else ""),
                        round(low, 3),
                        higher_is_better=False,
                        target=target,
                        target_met=high <= FLAT * low,
                        note=note,
                        extra={
                            "per_round": [round(x, 3) for x in per_round],
                            "answer_items": [answer_low.items, answer_high.items],
                            "answer_total": [answer_low.total, answer_high.total],
                            "cpu_us": [round(cpu_low, 1), round(cpu_high, 1)],
                        },
                    )
                )
    return out


def _unlink(url: str) -> None:
    path = url.split("///", 1)[-1]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)


def run_sizes(
    config: Config,
    sizes: tuple[int, ...],
    say: Any = print,
    rounds: int = ROUNDS,
    kept: dict[int, str] | None = None,
    only: tuple[str, ...] = (),
) -> list[Figure]:
    """Build each history's read models (or use `kept`: events -> a URL built by `build`,
    not deleted), then measure them side by side in alternating rounds."""
    datasets: list[Dataset] = []
    made: list[str] = []
    try:
        for events in sizes:
            if kept and events in kept:
                datasets.append(describe(kept[events], events))
                continue
            data = build(config, events, say)
            made.append(data.url)
            datasets.append(data)
        t = time.perf_counter()
        seconds = sample_seconds(config.http_seconds, rounds)
        say(f"  asof: {rounds} alternating rounds of {seconds} s per sample")
        samples = measure_rounds(datasets, seconds, rounds, say, only)
        say(f"  asof: measured in {time.perf_counter() - t:.0f} s")
    finally:
        for url in made:
            _unlink(url)
    built = {d.events: d.build_s for d in datasets}
    return figures(samples, built) + flatness(samples)


async def run(ctx: Any) -> list[Figure]:
    from bench.__main__ import say

    return run_sizes(ctx.config, ctx.config.asof_sizes, say)
