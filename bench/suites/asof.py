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
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from bench.config import Config
from bench.direct import build_read_models, stored_events
from bench.figures import Figure, not_measured
from bench.gateway_app import SECRET_ENV, coordinator_token
from bench.history.generator import generate
from bench.suites.graphql import fetch, post_script, serve, stop
from bench.wrk import WrkResult, run_wrk
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


TENDERS = TendersProjection().key  # tenders_v<version>
CONTRACTS_V = ContractsProjection().key
ENROLMENT = EnrolmentProjection().key
EVENT_LOG = EventLogProjection().key


def _date(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1_000_000, UTC).date().isoformat()


def build(config: Config, events: int, say: Any = print) -> Dataset:
    history = generate(config.seed, events)
    streams = stored_events(history)
    url = f"sqlite:////tmp/bench-asof-{events}-{uuid.uuid4().hex[:8]}.db"
    engine = make_engine(url)
    built = build_read_models(engine, streams, batch=2_000)
    say(f"  asof: {events:,} events built in {built.seconds:.1f} s ({built.parked} parked)")
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
    engine.dispose()
    # The tender halfway through its own lots' valid time (the list: see `_middle`).
    as_of = _date((first_lot + last_lot) // 2)
    return Dataset(events, url, built.seconds, tender, as_of, supplier, buyer, organisation)


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


def _measure(url: str, body: str, token: str, seconds: int) -> tuple[WrkResult, dict[str, Any]]:
    answer = fetch(url, body, token)
    if answer.get("errors"):
        raise RuntimeError(f"the gateway answered with errors: {json.dumps(answer)[:600]}")
    script = post_script(body, token)
    try:
        return run_wrk(url, seconds, CONNECTIONS, script), answer
    finally:
        os.unlink(script)


def measure(data: Dataset, seconds: int) -> list[Figure]:
    secret = secrets.token_hex(32)
    token = coordinator_token(secret)
    port = free_port()
    gateway = serve(
        "bench.gateway_app:create",
        {"BENCH_READ_MODEL_URL": data.url, SECRET_ENV: secret},
        port,
        "/healthz",
    )
    middle = _middle(data.url)
    url = f"http://127.0.0.1:{port}/graphql"
    figures = []
    try:
        for name, (query, variables, as_of) in roots(data, middle).items():
            asked = {**variables, "asOf": as_of}
            if query is EVENTS_KNOWN:
                asked["knownAt"] = f"{as_of}T23:59:59+00:00"
            past_body = json.dumps({"query": query, "variables": asked})
            now_body = json.dumps({"query": query, "variables": variables})
            try:
                past, past_answer = _measure(url, past_body, token, seconds)
                now, _ = _measure(url, now_body, token, seconds)
            except (OSError, RuntimeError) as exc:  # one root's failure loses no other figure
                figures += [
                    not_measured(
                        "asof",
                        f"{name}: {what}, {data.events:,} events",
                        "ms",
                        "the present query (no asOf), same data",
                        f"{type(exc).__name__}: {exc}"[:300],
                    )
                    for what in ("p50", "p99")
                ]
                continue
            size = len(json.dumps(past_answer))
            for what in ("p50", "p99"):
                value = past.p50_ms if what == "p50" else past.p99_ms
                base = now.p50_ms if what == "p50" else now.p99_ms
                errors = past.errors + now.errors
                figures.append(
                    Figure(
                        "asof",
                        f"{name}: {what}, {data.events:,} events",
                        "ms",
                        round(value, 3),
                        "the present query (no asOf), same data",
                        round(base, 3),
                        higher_is_better=False,
                        target="<= 2x present",
                        target_met=value <= 2 * base,
                        note=f"asOf {as_of}; {CONNECTIONS} conns; answer {size:,} bytes"
                        + (f"; {errors} failed requests" if errors else ""),
                        extra={
                            "as_of": as_of,
                            "variables": variables,
                            "events": data.events,
                            "build_s": round(data.build_s, 1),
                            "past_req_s": past.requests_per_s,
                            "present_req_s": now.requests_per_s,
                        },
                    )
                )
    finally:
        stop(gateway)
    return figures


def flatness(figures: list[Figure]) -> list[Figure]:
    """asOf p50 at the largest history against the smallest: flat means a ratio near 1."""
    out: list[Figure] = []
    sizes = sorted({f.extra["events"] for f in figures if "events" in f.extra})
    if len(sizes) < 2:
        return out
    small, large = sizes[0], sizes[-1]
    names = list(dict.fromkeys(f.name.rsplit(": ", 1)[0] for f in figures))
    for root in names:
        for what in ("p50", "p99"):
            pick = {
                f.extra["events"]: f
                for f in figures
                if "events" in f.extra and f.name.startswith(f"{root}: {what},")
            }
            a, b = pick.get(small), pick.get(large)
            if a is None or b is None or a.value is None or b.value is None:
                continue
            # Each size's own present query is the yardstick (the machine drifts between sizes):
            ratio_large = b.value / b.baseline if b.baseline else None
            ratio_small = a.value / a.baseline if a.baseline else None
            out.append(
                Figure(
                    "asof",
                    f"{root}: asOf {what} at {large:,} events vs at {small:,}",
                    "ms",
                    b.value,
                    f"asOf {what} at {small:,} events",
                    a.value,
                    higher_is_better=False,
                    target="flat in history length",
                    target_met=b.value <= 1.5 * a.value,
                    note=f"asOf/present ratio {ratio_small:.2f}x at {small:,},"
                    f" {ratio_large:.2f}x at {large:,}"
                    if ratio_small and ratio_large
                    else "",
                )
            )
    return out


def run_sizes(config: Config, sizes: tuple[int, ...], say: Any = print) -> list[Figure]:
    figures: list[Figure] = []
    for events in sizes:
        t = time.perf_counter()
        data = build(config, events, say)
        try:
            figures += measure(data, config.http_seconds)
        finally:
            path = data.url.split("///", 1)[-1]
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.unlink(path + suffix)
        say(f"  asof: {events:,} events measured ({time.perf_counter() - t:.0f} s in all)")
    return figures + flatness(figures)


async def run(ctx: Any) -> list[Figure]:
    from bench.__main__ import say

    return run_sizes(ctx.config, ctx.config.asof_sizes, say)
