"""The (programme, municipality) pairs at a past valid day as known now, from the stored
spans (asof13), equal the pairs found from the participants and their tenders at that
horizon: on the bench generator's history (enrolments, withdrawals, frozen lists, backdated
facts), at every valid instant the history names, a microsecond either side, and the spans'
own edges; through the read models' batch path (rebuild and live write the same spans:
test_rebuild_equals_live compares every table at batch 2,000 / 1 / 37).

Real SQLite: the enrolment read model's own transaction writes the spans, the gateway's own
statement reads them."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bench.direct import stored_events
from bench.history.generator import generate
from gateway.projections import EnrolmentProjection
from gateway.readmodels import KNOWN_NOW, ReadModels
from gateway.schema.programme_pairs import MUNICIPALITY, programme_pairs, stored_spans
from tests.support.built_history import BuiltHistory

BUILT = BuiltHistory(
    stored_events(generate(seed=23, events=1_500)),
    "spans.db",
    batch=300,
    edges_of=lambda read: read.versions(EnrolmentProjection).programme_spans.spans,
)


def _pairs(bound: ReadModels, query: Any) -> list[tuple[str, str]]:
    """The pairs as rows, sorted: a pair twice (overlapping spans) would count twice."""

    async def run() -> list[Any]:
        return await bound.rows(select(query.c.programme_id, query.c.organisation_code))

    return sorted((r["programme_id"], r["organisation_code"]) for r in asyncio.run(run()))


def _from_rows(bound: ReadModels) -> Any:
    """The pairs as found before the spans: every participant at the horizon, its tender."""
    p, t = bound.enrolment.participants, bound.tenders.tenders
    return (
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pick=st.floats(0, 1))
def test_the_stored_pairs_are_the_pairs_of_the_rows_at_every_past_day(
    tmp_path_factory: Any, pick: float
) -> None:
    read = BUILT.read(tmp_path_factory.getbasetemp())
    instants = BUILT.valid_instants(read)
    valid = instants[min(int(pick * len(instants)), len(instants) - 1)]
    bound = read.at(valid, KNOWN_NOW)
    assert stored_spans(bound) is not None  # the stored form answers this horizon
    assert _pairs(bound, programme_pairs(bound)) == _pairs(bound, _from_rows(bound)), valid


def test_the_last_instants_asked_are_days_a_client_can_ask(tmp_path_factory: Any) -> None:
    """The property's last picks: a microsecond before the spans' open end once lay
    beyond year 9999, and no client can ask that (CI, stop 40)."""
    read = BUILT.read(tmp_path_factory.getbasetemp())
    for valid in BUILT.valid_instants(read)[-3:]:
        bound = read.at(valid, KNOWN_NOW)
        assert _pairs(bound, programme_pairs(bound)) == _pairs(bound, _from_rows(bound)), valid


def test_the_history_has_pairs_that_begin_and_end(tmp_path_factory: Any) -> None:
    """The property above is asked of a history whose pairs change in the past: many pairs
    at its middle, spans that end (withdrawals), pairs in more than one span."""
    read = BUILT.read(tmp_path_factory.getbasetemp())
    instants = BUILT.valid_instants(read)
    middle = read.at(instants[len(instants) // 2], KNOWN_NOW)
    assert len(_pairs(middle, programme_pairs(middle))) > 50
    spans = read.versions(EnrolmentProjection).programme_spans.spans
    with read.engine.connect() as conn:
        rows = conn.execute(select(spans)).all()
    ended = [r for r in rows if r.valid_to < max(instants)]
    assert ended, "no span ends in the history: the withdrawals are not exercised"


def test_the_present_and_a_known_instant_read_the_rows(tmp_path_factory: Any) -> None:
    """Only a past day as known now reads the spans; an older enrolment version still
    serving while v3 rebuilds beside it (it has no spans) reads the rows (review15)."""
    read = BUILT.read(tmp_path_factory.getbasetemp())
    instants = BUILT.valid_instants(read)
    valid = instants[len(instants) // 2]
    assert stored_spans(read.at_now()) is None
    assert stored_spans(read.at(valid, valid)) is None
    assert stored_spans(read) is None
    rebuilding = SimpleNamespace(projection=EnrolmentProjection(), live=False, live_version=2)
    serving = ReadModels(read.engine, [rebuilding])  # type: ignore[list-item]
    assert stored_spans(serving.at(valid, KNOWN_NOW)) is None
