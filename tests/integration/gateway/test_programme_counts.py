"""The stored programme totals (flat14) answer `participationByProgramme` and
`participationByProgrammeAndProvince` at a past day as known now exactly as the rows do:
the distinct (programme, municipality) pairs at the horizon, of the municipalities counted
then (registered, not merged away by the day), per programme and the province the
municipality had then.

History: the bench generator's (seed 23: enrolments, withdrawals, frozen lists, backdated
facts) with, recorded among its commits, the registrations of the municipalities it enrols
without registering (late, backdated to a day inside the history, some without a province)
and mergers of enrolled municipalities, some backdated (recorded after the day they took
effect), some recorded ahead of it. An organisation's fact changes the totals of every
pair of that municipality (`programme_counts`: the pieces of its pairs are cut anew).

Two properties, hypothesis picking the horizon:
- built through the read models' batch path, at every valid instant the history names (a
  microsecond either side, the pieces' edges, the mergers' midnights): stored == rows;
- kept live: the enrolment read model alone, applied in transaction order in small batches,
  its totals as they stood after each of them (known instant K) == the rows of the whole
  history at (D, K): each batch's changes were folded in right, backdated ones included.

Real SQLite; the enrolment read model's own transaction writes the totals."""

from __future__ import annotations

import asyncio
import random
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, bindparam, func, select

from bench.direct import stored_events
from bench.history.generator import generate
from bench.history.model import Commit, History, SyntheticEvent, at
from bootstrap.parts import projection_runner
from contracts_schema.calendar import dutch_midnight
from eventstore.bitemporal_sql import micros
from eventstore.sql import make_engine
from eventstore.store import StoredEvent
from gateway.projections import EnrolmentProjection
from gateway.readmodels import HORIZON_VALID, KNOWN_NOW, ReadModels
from gateway.schema.participation import not_merged_away
from gateway.schema.programme_pairs import (
    MUNICIPALITY,
    programme_province_counts,
    stored_totals,
)
from tests.support.built_history import BuiltHistory

PROVINCES = ("Utrecht", "Gelderland", None, "Limburg")


def _history() -> History:
    """The generator's history with late registrations and mergers recorded among it."""
    base = generate(seed=23, events=1_500)
    rng = random.Random(14)
    commits = list(base.commits)
    registered = {
        c.aggregate_id
        for c in commits
        if any(e.event_type == "OrganisationRegistered" for e in c.events)
    }
    enrolled = sorted(
        {
            e.payload["organisation_code"]
            for c in commits
            for e in c.events
            if e.event_type == "ParticipantEnrolled"
            and e.payload["organisation_code"].startswith("GM")
        }
    )
    times = sorted(c.recorded_at for c in commits)
    first, last = times[0].date(), times[-1].date()

    def some_day() -> date:
        return first + timedelta(days=rng.randrange((last - first).days))

    def among(k: int) -> Any:  # recorded a second after the k-th commit of the history
        return times[k] + timedelta(seconds=1)

    extra: list[Commit] = []
    for i, code in enumerate(c for c in enrolled if c not in registered):
        day = some_day()
        recorded = among(rng.randrange(len(times)))
        payload = {
            "code": code,
            "name": f"Gemeente {code}",
            "kind": "municipality",
            "province": PROVINCES[i % len(PROVINCES)],
        }
        event = SyntheticEvent("OrganisationRegistered", payload, at(min(day, recorded.date()), 9))
        extra.append(
            Commit("enrolment", "organisation", code, (event,), recorded, f"late-{code}", "seed")
        )
    merged = rng.sample([c for c in enrolled if c in registered], 6)
    for i, code in enumerate(merged):
        recorded = among(rng.randrange(len(times) // 3, len(times)))
        if i % 2:  # backdated: recorded after the day it took effect
            effective = recorded.date() - timedelta(days=rng.randint(30, 900))
            valid = effective
        else:  # recorded ahead of the day it takes effect
            effective = recorded.date() + timedelta(days=rng.randint(1, 200))
            valid = recorded.date()
        payload = {"code": code, "successor_code": "GM0344", "effective_on": effective.isoformat()}
        event = SyntheticEvent("MunicipalityMerged", payload, at(valid, 9))
        extra.append(
            Commit("enrolment", "organisation", code, (event,), recorded, f"merge-{code}", "seed")
        )
    order = len(commits)
    extra = [replace(c, order=order + i) for i, c in enumerate(extra)]
    return History(23, tuple(sorted(commits + extra, key=lambda c: (c.recorded_at, c.order))))


HISTORY = _history()
STREAMS = stored_events(HISTORY)
# The valid instants: every event's, the pieces' edges and the mergers' midnights (not the
# open end), a microsecond either side.
BUILT = BuiltHistory(
    STREAMS,
    "totals.db",
    batch=300,
    edges_of=lambda read: read.versions(EnrolmentProjection).programme_counts.pieces,
    also={
        micros(dutch_midnight(date.fromisoformat(e.payload["effective_on"])))
        for commit in HISTORY.commits
        for e in commit.events
        if e.event_type == "MunicipalityMerged"
    },
    below=2**62,
)


def _from_rows(bound: ReadModels) -> list[tuple[str, str, int]]:
    """As the resolver counted before the spans and the totals: the distinct pairs of every
    participant at the horizon and its tender, joined to the municipalities counted then."""
    o = bound.organisations.organisations
    p, t = bound.enrolment.participants, bound.tenders.tenders
    pairs = (
        select(t.c.programme_id, p.c.organisation_code)
        .join(t, t.c.tender_id == p.c.tender_id)
        .where(
            p.c.participates.is_(True),
            p.c.organisation_code.like(MUNICIPALITY),
            t.c.programme_id.is_not(None),
        )
        .distinct()
        .subquery("pairs")
    )
    province = func.coalesce(o.c.province, "unknown")
    info = SimpleNamespace(context=SimpleNamespace(read=bound))
    query = (
        select(pairs.c.programme_id, province.label("province"), func.count().label("n"))
        .join(o, o.c.code == pairs.c.organisation_code)
        .where(not_merged_away(info, o))  # type: ignore[arg-type]
        .group_by(pairs.c.programme_id, province)
        .order_by(pairs.c.programme_id, province)
    )
    rows = asyncio.run(bound.rows(query))
    return [(r["programme_id"], r["province"], int(r["n"])) for r in rows]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pick=st.floats(0, 1))
def test_the_stored_totals_are_the_rows_counted_at_every_past_day(
    tmp_path_factory: Any, pick: float
) -> None:
    read = BUILT.read(tmp_path_factory.getbasetemp())
    instants = BUILT.valid_instants(read)
    valid = instants[min(int(pick * len(instants)), len(instants) - 1)]
    bound = read.at(valid, KNOWN_NOW)
    assert stored_totals(bound) is not None  # the stored form answers this horizon
    assert asyncio.run(programme_province_counts(bound)) == _from_rows(bound), valid


def test_the_history_counts_mergers_late_registrations_and_provinces(
    tmp_path_factory: Any,
) -> None:
    """The property above is asked of a history where the organisations' facts matter: at
    some day a merged municipality's pairs are left out, at another a late-registered one's
    are counted under a province, another's under "unknown"."""
    read = BUILT.read(tmp_path_factory.getbasetemp())
    enrolment = read.versions(EnrolmentProjection)
    counted, pieces = enrolment.organisation_counted, enrolment.programme_counts.pieces
    with read.engine.connect() as conn:
        merged = conn.execute(
            select(func.count(func.distinct(pieces.c.organisation_code)))
            .join(counted, counted.c.code == pieces.c.organisation_code)
            .where(counted.c.counted_until < 2**62, pieces.c.valid_to == counted.c.counted_until)
        ).scalar()
        provinces = {r[0] for r in conn.execute(select(pieces.c.province).distinct())}
        keys = conn.execute(
            select(func.count()).select_from(enrolment.programme_counts.keys)
        ).scalar()
    assert (merged or 0) >= 2, "no merger cuts a municipality's pairs"
    assert {"Utrecht", "unknown"} <= provinces
    assert (keys or 0) > 10
    instants = BUILT.valid_instants(read)
    middle = read.at(instants[len(instants) // 2], KNOWN_NOW)
    assert sum(n for *_, n in _from_rows(middle)) > 50


def test_the_present_and_a_known_instant_count_the_rows(tmp_path_factory: Any) -> None:
    read = BUILT.read(tmp_path_factory.getbasetemp())
    valid = BUILT.valid_instants(read)[len(BUILT.valid_instants(read)) // 2]
    assert stored_totals(read.at_now()) is None
    assert stored_totals(read.at(valid, valid)) is None
    assert stored_totals(read) is None
    rebuilding = SimpleNamespace(projection=EnrolmentProjection(), live=False, live_version=3)
    serving = ReadModels(read.engine, [rebuilding])  # type: ignore[list-item]
    assert stored_totals(serving.at(valid, KNOWN_NOW)) is None


# ----------------------------------------------------------------- kept live, batch by batch

SNAPSHOTS = 14
_BUILT: dict[str, Any] = {}  # the snapshots, taken once


def _in_transaction_order() -> list[StoredEvent]:
    enrolment = EnrolmentProjection()
    events = [e for c in enrolment.contexts for e in STREAMS.get(c.stream, [])]
    return sorted(events, key=lambda e: (e.envelope.recorded_at, e.stream, e.seq))


def _snapshots(directory: Path) -> list[tuple[int, Path]]:
    """(K, a copy of the enrolment read model as it stood once every event recorded by K was
    applied), applied in transaction order, one stream's run of events per batch (at most
    40), copied at SNAPSHOTS points."""
    if "snapshots" in _BUILT:
        return _BUILT["snapshots"]  # type: ignore[no-any-return]
    path = directory / "live.db"
    engine = make_engine(f"sqlite:///{path}")
    runner = projection_runner(None, engine, EnrolmentProjection(), batch=40)  # type: ignore[arg-type]
    runner.create_tables()
    events = _in_transaction_order()
    cuts = {len(events) * (i + 1) // SNAPSHOTS for i in range(SNAPSHOTS)}
    found: list[tuple[int, Path]] = []
    batch: list[StoredEvent] = []
    for i, event in enumerate(events):
        if batch and (batch[-1].stream != event.stream or len(batch) == 40):
            runner.apply_batch(batch[-1].stream, batch)
            batch = []
        batch.append(event)
        following = events[i + 1] if i + 1 < len(events) else None
        cut = i + 1 in cuts and (
            following is None or following.envelope.recorded_at > event.envelope.recorded_at
        )
        if cut:
            runner.apply_batch(batch[-1].stream, batch)
            batch = []
            copy = directory / f"live-{i + 1}.db"
            engine.dispose()
            shutil.copy(path, copy)
            found.append((micros(event.envelope.recorded_at), copy))
    if batch:
        runner.apply_batch(batch[-1].stream, batch)
    engine.dispose()
    _BUILT["snapshots"] = found
    return found


def _stored_at(snapshot: Path, valid: int) -> list[tuple[str, str, int]]:
    enrolment = EnrolmentProjection()
    enrolment.define(MetaData())
    totals = enrolment.programme_counts.at(bindparam(HORIZON_VALID)).subquery("totals")
    query = select(totals.c.programme_id, totals.c.province, totals.c.n).order_by(
        totals.c.programme_id, totals.c.province
    )
    engine = make_engine(f"sqlite:///{snapshot}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(query, {HORIZON_VALID: valid}).all()
    finally:
        engine.dispose()
    return [(p, r, int(n)) for p, r, n in rows if n]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, SNAPSHOTS - 1), pick=st.floats(0, 1))
def test_the_totals_kept_live_are_the_rows_known_then(
    tmp_path_factory: Any, which: int, pick: float
) -> None:
    directory = tmp_path_factory.getbasetemp()
    read = BUILT.read(directory)
    snapshots = _snapshots(directory)
    known, snapshot = snapshots[min(which, len(snapshots) - 1)]
    instants = BUILT.valid_instants(read)
    valid = instants[min(int(pick * len(instants)), len(instants) - 1)]
    bound = read.at(valid, known)
    assert stored_totals(bound) is None  # a past known instant: the rows
    assert _stored_at(snapshot, valid) == _from_rows(bound), (valid, known)


def test_the_snapshots_span_the_history(tmp_path_factory: Any) -> None:
    snapshots = _snapshots(tmp_path_factory.getbasetemp())
    assert len(snapshots) >= SNAPSHOTS - 2
