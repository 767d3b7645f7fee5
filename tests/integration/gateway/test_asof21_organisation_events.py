"""An organisation's events at any horizon (asof21, event log v3): counted from its links'
per-code counts as known now, paged from its links in the log's order.

(1) On generated histories (events backdated across the counts' weeks and blocks, naming
several codes each, random batch cuts; the projection's own runner batch path): the stored
count of each code at valid instants on and beside the weeks', the blocks' and the events'
own edges == the events naming it that had happened by then, counted from the drawn
envelopes; at the present, every event naming it. (2) Through GraphQL, on the bench
generator's history: `events(asOf, knownAt, filter: {organisationCode})` (the stored count
as known now, the page driven from the links) == the answer computed here from the stored
events themselves (the codes their payloads name, the owner's known-time rule, the log's
order), at random horizons, codes and pages. (3) The count and the page the gateway sends
for the busiest municipality read about as many rows at 10x the history (before: every
linked event counted, and every one sorted for the page).
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, event, func, select

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from bootstrap.runners import projection_runner
from contracts_schema.calendar import end_of_dutch_day
from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.bitemporal_sql import micros
from eventstore.known_time import known_by
from eventstore.records import StoredEvent
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.projections import EventLogProjection
from gateway.projections.common import organisation_codes_in
from gateway.projections.event_counts import BUCKET
from gateway.projections.event_log import BLOCK
from gateway.readmodels import KNOWN_NOW, ReadModels
from gateway.schema.events import ORGANISATION, organisation_count
from tests.integration.gateway.harness import settings as gateway_settings

START = datetime(2020, 1, 1, 9, tzinfo=UTC)
RECORDED = datetime(2024, 1, 1, tzinfo=UTC)  # after every drawn event, before now
CODES = ("GM0001", "GM0002", "KVK-12345678")
CONTEXTS = (REGISTRY, ENROLMENT)

# One event: (context, aggregate, days after START it happened (across several blocks of
# 64 weeks), the codes its payload names, hours it was recorded after it happened)
events_ = st.lists(
    st.tuples(
        st.sampled_from(CONTEXTS),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 3 * BLOCK * 7 + 30),
        st.sets(st.sampled_from(CODES), max_size=3),
        st.integers(0, 2000),
    ),
    min_size=1,
    max_size=40,
)


def history(drawn: list[tuple[Any, str, int, set[str], int]]) -> dict[str, list[StoredEvent]]:
    """The drawn events in their streams, recorded in the order drawn (so an event drawn
    later may have happened long before: backdated)."""
    versions: dict[tuple[str, str], int] = {}
    streams: dict[str, list[StoredEvent]] = {}
    for i, (context, aggregate, day, codes, hours) in enumerate(drawn):
        key = (context.name, aggregate)
        versions[key] = versions.get(key, 0) + 1
        happened = START + timedelta(days=day, minutes=i)
        envelope = EventEnvelope.model_validate(
            {
                "event_id": f"e-{i}",
                "event_type": "EntryRecorded",
                "schema_version": 1,
                "context": context.name,
                "aggregate_type": "thing",
                "aggregate_id": aggregate,
                "aggregate_version": versions[key],
                "occurred_at": happened.isoformat(),
                "recorded_at": (RECORDED + timedelta(hours=hours, seconds=i)).isoformat(),
                "actor": "tester",
                "command_id": f"c-{i}",
                "correlation_id": f"c-{i}",
                "prev_hash": None,
                "hash": f"h-{i}",
                "payload": {"parties": sorted(codes), "note": "GM0009 is not a code's value"},
            }
        )
        stream = streams.setdefault(context.stream, [])
        stream.append(StoredEvent(envelope, context.stream, len(stream) + 1, "s"))
    return streams


def valid_instants(envelopes: list[EventEnvelope], cut: int) -> list[int]:
    """On, just before and after the events' own instants and the edges of their weeks and
    blocks; before everything and long after."""
    found: set[int] = set()
    for e in envelopes:
        v = micros(e.occurred_at)
        week = v // BUCKET
        block_start = (week // BLOCK) * BLOCK * BUCKET
        for edge in (v, week * BUCKET, (week + 1) * BUCKET, block_start):
            found |= {edge - 1, edge, edge + 1}
        found.add(block_start + BLOCK * BUCKET)
    ordered = sorted(found)
    chosen = ordered[cut % 5 :: 5] or ordered
    return [*chosen, micros(START) - 10 * BLOCK * BUCKET, micros(START) + 100 * BLOCK * BUCKET]


def build(url: str, streams: dict[str, list[StoredEvent]], batch: int) -> Any:
    engine = make_engine(url)
    runner = projection_runner(None, engine, EventLogProjection(), batch=batch)  # type: ignore[arg-type]
    runner.create_tables()
    for context in EventLogProjection.contexts:
        events = streams.get(context.stream, [])
        for first in range(0, len(events), batch):
            runner.apply_batch(context.stream, events[first : first + batch])
    return engine


async def stored(read: ReadModels, code: str) -> int:
    context: Any = SimpleNamespace(read=read)
    found = organisation_count(context)
    assert found is not None
    statement, parameters = found
    return int(await read.scalar(statement, {ORGANISATION: code, **parameters}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=events_, batch=st.integers(1, 12), cut=st.integers(0, 20))
def test_the_stored_count_is_the_codes_events_at_every_valid_instant(
    drawn: list[tuple[Any, str, int, set[str], int]], batch: int, cut: int
) -> None:
    streams = history(drawn)
    envelopes = [e.envelope for s in streams.values() for e in s]
    with tempfile.TemporaryDirectory() as directory:
        engine = build(f"sqlite:///{Path(directory) / 'views.db'}", streams, batch)
        try:
            read = ReadModels(engine)

            async def check() -> None:
                for code in (*CODES, "GM0009"):
                    naming = [e for e in envelopes if code in e.payload["parties"]]
                    assert await stored(read.at_now(), code) == len(naming), code
                    for valid in valid_instants(envelopes, cut):
                        d = datetime.fromtimestamp(valid / 1e6, UTC)
                        expected = sum(1 for e in naming if e.occurred_at <= d)
                        found = await stored(read.at(valid, KNOWN_NOW), code)
                        assert found == expected, (code, d)

            asyncio.run(check())
        finally:
            engine.dispose()


def test_a_past_known_instant_and_an_older_log_are_not_answered_from_the_counts() -> None:
    """The counts are as known now: at a past known instant, and while an older event log
    version (no counts) serves, the rows are counted (None here)."""
    engine = make_engine("sqlite://")
    try:
        read = ReadModels(engine)
        assert organisation_count(SimpleNamespace(read=read.at(10**15, 10**15))) is None
        older = EventLogProjection()
        older.version = 2  # type: ignore[misc]
        older.define(MetaData())
        assert older.counts is None
        assert "recorded_at" not in older.organisations.c
    finally:
        engine.dispose()


# --- through GraphQL, on the bench generator's history ------------------------------------

EVENTS = """query E($asOf: Date, $knownAt: DateTime, $code: String!, $after: String) {
  events(asOf: $asOf, knownAt: $knownAt, filter: {organisationCode: $code}, first: 20,
         after: $after) {
    totalCount
    edges { cursor node { position occurredAt recordedAt eventType } }
    pageInfo { hasNextPage endCursor }
  }
}"""


class Built:
    def __init__(self, directory: Path, events: int, seed: int) -> None:
        self.url = f"sqlite:///{directory / f'read-models-{events}.db'}"
        streams = stored_events(generate(seed=seed, events=events))
        self.stored = [e for events in streams.values() for e in events]
        engine = make_engine(self.url)
        build_read_models(engine, streams, batch=500)
        with engine.begin() as conn:  # the statistics the gateway plans with (planner)
            conn.exec_driver_sql("ANALYZE")
        engine.dispose()
        counted: dict[str, int] = {}
        for s in self.stored:
            for code in self.codes(s.envelope):
                counted[code] = counted.get(code, 0) + 1
        self.busiest = sorted(counted, key=lambda c: (-counted[c], c))
        self.municipalities = [c for c in self.busiest if c.startswith("GM")]
        moments = sorted(s.envelope.occurred_at for s in self.stored)
        low, high = moments[0], moments[-1]
        step = (high - low) / 10
        self.days = [(low + step * i).date().isoformat() for i in range(-1, 12)]
        recorded = sorted(s.envelope.recorded_at for s in self.stored)
        kstep = (recorded[-1] - recorded[0]) / 8
        self.knowns = [(recorded[0] + kstep * i).isoformat() for i in range(0, 10)]

    @staticmethod
    def codes(e: EventEnvelope) -> set[str]:
        """The organisations an event concerns, from its payload (the owner's rule)."""
        found = organisation_codes_in(e.payload)
        if e.aggregate_type == "organisation":
            found.add(e.aggregate_id)
        return found

    def expected(self, code: str, as_of: str | None, known_at: str | None) -> list[str]:
        """The code's events at the horizon, in the log's order: their positions."""
        envelopes = [s.envelope for s in self.stored]
        where = {s.envelope.event_id: s for s in self.stored}
        seen = known_by(envelopes, datetime.fromisoformat(known_at)) if known_at else envelopes
        if as_of is not None:
            end = end_of_dutch_day(date.fromisoformat(as_of))
            seen = [e for e in seen if e.occurred_at <= end]
        elif known_at is not None:  # knownAt alone: valid now
            seen = [e for e in seen if e.occurred_at <= datetime.now(UTC)]
        chosen = [where[e.event_id] for e in seen if code in self.codes(e)]
        chosen.sort(key=lambda s: (s.envelope.recorded_at, s.stream, s.seq))
        return [f"{s.stream}:{s.seq}" for s in chosen]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory.mktemp("organisation-events"), 1_500, 41)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory.mktemp("organisation-events"), 15_000, 41)


async def _ask(
    url: str, queries: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[list[tuple[str, Any]]]]:
    """Each query's `events` answer, and the statements each sent."""
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    configured = gateway_settings(database_url=url)
    app = build_app(ReadModels(engine), configured)
    token = issue_token(configured, Role.COORDINATOR, "coordinator-user")
    answers, statements = [], []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        for variables in queries:
            sent.clear()
            answer = (
                await client.post(
                    "/graphql",
                    json={"query": EVENTS, "variables": variables},
                    headers={"authorization": f"Bearer {token}"},
                )
            ).json()
            assert "errors" not in answer, (variables, answer)
            answers.append(answer["data"]["events"])
            statements.append(list(sent))
    engine.dispose()
    return answers, statements


def _place(cursor: str) -> list[Any]:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))[2]  # type: ignore[no-any-return]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_an_organisations_events_are_the_answer_from_the_stored_events(
    small: Built, data: st.DataObject
) -> None:
    """At random (asOf, knownAt) horizons (either absent), an organisation's events: the
    totalCount, the first page and the page after its end cursor are those of the stored
    events naming it, at that horizon, in the log's order."""
    code = data.draw(
        st.sampled_from([*small.municipalities[:3], small.busiest[0], small.busiest[-1], "GM9999"])
    )
    as_of = data.draw(st.one_of(st.none(), st.sampled_from(small.days)))
    known_at = data.draw(st.one_of(st.none(), st.sampled_from(small.knowns)))
    horizon = {"asOf": as_of, "knownAt": known_at, "code": code}
    expected = small.expected(code, as_of, known_at)
    (first,), (sent,) = asyncio.run(_ask(small.url, [horizon]))
    assert first["totalCount"] == len(expected), horizon
    assert [e["node"]["position"] for e in first["edges"]] == expected[:20], horizon
    assert first["pageInfo"]["hasNextPage"] == (len(expected) > 20)
    # The count was the stored one exactly when known now (past or present).
    assert any("_org_blocks" in sql for sql, _ in sent) == (known_at is None), sent
    if first["pageInfo"]["hasNextPage"]:
        after = first["pageInfo"]["endCursor"]
        (second,), _ = asyncio.run(_ask(small.url, [{**horizon, "after": after}]))
        assert second["totalCount"] == len(expected)
        assert [e["node"]["position"] for e in second["edges"]] == expected[20:40], horizon
        stream, seq = first["edges"][-1]["node"]["position"].split(":")
        assert _place(after)[1:] == [stream, int(seq)]  # (recorded_at, stream, seq)


def test_the_history_has_organisations_with_events_in_the_past(small: Built) -> None:
    """The comparison above is not of empty answers: the busiest municipality has several
    events at the middle of the valid time, the busiest organisation more than a page (the
    page after it is compared too), and some at a known instant."""
    code = small.municipalities[0]
    assert len(small.expected(code, small.days[6], None)) >= 5
    assert len(small.expected(small.busiest[0], small.days[6], None)) > 20
    assert len(small.expected(code, small.days[6], small.knowns[5])) >= 1
    assert len(small.expected(code, small.days[6], None)) < len(small.expected(code, None, None))


def _steps(url: str, sent: list[tuple[str, Any]]) -> tuple[int, int]:
    """SQLite's virtual-machine steps (per 100) of the page's count and of its rows."""
    selects = [(sql, p) for sql, p in sent if sql.lstrip().upper().startswith("SELECT")]
    counts = [(sql, p) for sql, p in selects if "LIMIT" not in sql]
    pages = [(sql, p) for sql, p in selects if "LIMIT" in sql]
    assert len(counts) == 1, sent
    assert len(pages) == 1, sent
    found = []
    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        for sql, parameters in (counts[0], pages[0]):
            steps = 0

            def tick() -> int:
                nonlocal steps
                steps += 1
                return 0

            conn.set_progress_handler(tick, 100)
            conn.execute(sql, parameters).fetchall()
            found.append(steps)
    return found[0], found[1]


@pytest.mark.parametrize("past", [True, False], ids=["past", "present"])
def test_the_busiest_organisations_events_read_about_as_much_at_ten_times_the_history(
    small: Built, large: Built, past: bool
) -> None:
    """Late in the valid time as known now (and at the present), the busiest
    organisation's events (many times as many in the larger history): the count and the
    page step through about as many rows. Before, the count read every linked event and the
    page sorted them all (`USE TEMP B-TREE FOR ORDER BY`)."""
    found = []
    for built in (small, large):
        code = built.busiest[0]
        variables = {"asOf": built.days[9] if past else None, "knownAt": None, "code": code}
        answers, sent = asyncio.run(_ask(built.url, [variables]))
        found.append((answers[0]["totalCount"], *_steps(built.url, sent[0])))
    (few, small_count, small_page), (many, large_count, large_page) = found
    assert many >= 3 * few, found  # the larger history's organisation has many more events
    assert large_count <= small_count + 10, found  # +1,000 steps at most
    assert large_page <= small_page + 10, found


def test_the_links_hold_their_events_instants(small: Built) -> None:
    """Every link carries its event's `recorded_at` and the instant it happened (`happened`,
    µs): what the page and the count's strip read instead of the event's row."""
    key = EventLogProjection().key
    engine = make_engine(small.url)
    try:
        with engine.connect() as conn:
            log = EventLogProjection()
            log.define(MetaData())
            o, t = log.organisations, log.events
            pairs = conn.execute(
                select(o.c.happened, o.c.recorded_at, t.c.occurred_at, t.c.recorded_at).select_from(
                    o.join(t, (o.c.stream == t.c.stream) & (o.c.seq == t.c.seq))
                )
            ).all()
            links = conn.execute(select(func.count()).select_from(o)).scalar_one()
    finally:
        engine.dispose()
    assert key.endswith("_v3")
    assert links > 1_000
    assert len(pairs) == links  # every link's event is in the log
    differ = [p for p in pairs if (p[0], p[1]) != (micros(p[2]), p[3])]
    assert not differ, differ[:3]


ON_POSTGRESQL = """query E($asOf: Date, $knownAt: DateTime, $code: String!) {
  events(asOf: $asOf, knownAt: $knownAt, filter: {organisationCode: $code}, first: 3) {
    totalCount nodes { position }
  }
}"""


def test_an_organisations_events_on_postgresql(postgres_cluster: Any) -> None:
    """The same statements on PostgreSQL (the links joined to the log in the links' order,
    the counts' upserts and sums): a fixed history backdated across weeks and blocks, at
    days across it as known now, at known instants and at the present: the totalCount and
    the first page == the events naming the code, computed from the envelopes."""
    drawn: list[tuple[Any, str, int, set[str], int]] = [
        (REGISTRY, "a", 500, {"GM0001"}, 0),
        (REGISTRY, "a", 3, {"GM0001", "KVK-12345678"}, 30),
        (ENROLMENT, "b", 900, {"GM0001"}, 60),
        (ENROLMENT, "b", 2, {"GM0002"}, 90),
        (REGISTRY, "c", 451, {"GM0001"}, 120),
        (REGISTRY, "c", 460, {"GM0001", "GM0002"}, 150),
        (ENROLMENT, "a", 1300, {"GM0001"}, 1000),
    ]
    streams = history(drawn)
    stored_ = [e for s in streams.values() for e in s]
    envelopes = [s.envelope for s in stored_]
    where = {s.envelope.event_id: s for s in stored_}
    recordings = sorted({e.recorded_at for e in envelopes})
    variables: list[dict[str, Any]] = []
    expected: list[tuple[int, list[str]]] = []
    for code in ("GM0001", "GM0002", "GM0009"):
        for days in (None, -1, 3, 455, 470, 899, 2000):
            for known in (None, recordings[2], recordings[-1]):
                seen = known_by(envelopes, known) if known is not None else envelopes
                day = None if days is None else (START + timedelta(days=days)).date()
                if day is not None:
                    seen = [e for e in seen if e.occurred_at <= end_of_dutch_day(day)]
                chosen = sorted(
                    (where[e.event_id] for e in seen if code in e.payload["parties"]),
                    key=lambda s: (s.envelope.recorded_at, s.stream, s.seq),
                )
                expected.append((len(chosen), [f"{s.stream}:{s.seq}" for s in chosen[:3]]))
                variables.append(
                    {
                        "asOf": None if day is None else day.isoformat(),
                        "knownAt": None if known is None else known.isoformat(),
                        "code": code,
                    }
                )
    url = postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")
    engine = build(url, streams, 2)
    try:

        async def ask() -> list[tuple[int, list[str]]]:
            config = gateway_settings(database_url=url)
            app = build_app(ReadModels(engine), config)
            token = issue_token(config, Role.COORDINATOR, "coordinator-user")
            out = []
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
            ) as client:
                for asked in variables:
                    answer = (
                        await client.post(
                            "/graphql",
                            json={"query": ON_POSTGRESQL, "variables": asked},
                            headers={"authorization": f"Bearer {token}"},
                        )
                    ).json()
                    assert "errors" not in answer, (asked, answer)
                    found = answer["data"]["events"]
                    out.append((found["totalCount"], [n["position"] for n in found["nodes"]]))
            return out

        answers = asyncio.run(ask())
    finally:
        engine.dispose()
    assert answers == expected
    assert {total for total, _ in expected} >= {0, 1, 2, 3}  # not all empty
