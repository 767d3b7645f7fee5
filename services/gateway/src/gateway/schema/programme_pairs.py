"""The distinct (programme, municipality) pairs taking part at the request's horizon: what
`participationByProgramme` and `participationByProgrammeAndProvince` count.

At a past valid day as known now they are the stored spans holding that day
(`projections.programme_spans`, asof13): as many rows as pairs, however long the history.
Otherwise (the present, a past known instant, or an older enrolment read model still serving
while its successor rebuilds, which has no spans) they are found from the participants and
their tenders, as before."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from gateway.projections import EnrolmentProjection
from gateway.projections.programme_counts import ProgrammeCounts
from gateway.readmodels import HORIZON_VALID, KNOWN_NOW, ReadModels

MUNICIPALITY = "GM%"  # CBS codes: every municipality, whatever its registered kind
SPANS_SINCE = 3  # the enrolment read model's first version with programme spans
TOTALS_SINCE = 4  # ... and with the programme totals (flat14)


def stored_spans(read: ReadModels) -> Any | None:
    """The spans table when it answers this request's horizon, else None."""
    if read.horizon is None or read.present or read.horizon[1] != KNOWN_NOW:
        return None
    enrolment = read.versions(EnrolmentProjection)
    if enrolment.version < SPANS_SINCE:
        return None
    return enrolment.programme_spans.spans


def stored_totals(read: ReadModels) -> ProgrammeCounts | None:
    """The programme totals when they answer this request's horizon (a past day as known
    now, an enrolment read model that keeps them), else None."""
    if read.horizon is None or read.present or read.horizon[1] != KNOWN_NOW:
        return None
    enrolment = read.versions(EnrolmentProjection)
    if enrolment.version < TOTALS_SINCE:
        return None
    return enrolment.programme_counts


PROGRAMME = "filter_programme"


async def programme_province_counts(
    read: ReadModels, programme: str | None = None
) -> list[tuple[str, str, int]] | None:
    """(programme, province, municipalities counted there taking part), ordered, rows of 0
    left out, at this request's past day as known now from the stored totals
    (`projections.programme_counts`): one seek per (programme, province), however long the
    history; of one programme's keys alone when `programme` is given (asof18: a fixed-size
    answer, where every programme's grows with the history). None when the totals do not
    answer this horizon (`programme_pairs` then)."""
    counts = stored_totals(read)
    if counts is None:
        return None

    def build() -> Any:
        # In the keys' order (their primary key: no sort); rows of 0 are left out here, not
        # in SQL, where the filter would seek each key's total a second time.
        at = counts.at(bindparam(HORIZON_VALID)).subquery("totals")
        query = select(at.c.programme_id, at.c.province, at.c.n)
        if programme is not None:  # the keys' primary key range of one programme
            query = query.where(at.c.programme_id == bindparam(PROGRAMME))
        return query.order_by(at.c.programme_id, at.c.province)

    shape = ("programme_totals", counts.totals, counts.keys, programme is not None)
    statement = read.statement(shape, build)
    rows = await read.rows(statement, {PROGRAMME: programme} if programme is not None else None)
    return [(r["programme_id"], r["province"], int(r["n"])) for r in rows if r["n"]]


def programme_pairs(read: ReadModels, programme: str | None = None) -> Any:
    """The pairs as a subquery named "pairs" (programme_id, organisation_code); of one
    programme alone when `programme` is given."""
    spans = stored_spans(read)
    if spans is not None:
        day: Any = bindparam(HORIZON_VALID)
        # Disjoint per pair: at most one span of a pair holds the day (no DISTINCT).
        query = select(spans.c.programme_id, spans.c.organisation_code).where(
            spans.c.valid_from <= day,
            spans.c.valid_to > day,
            spans.c.organisation_code.like(MUNICIPALITY),
        )
        if programme is not None:
            query = query.where(spans.c.programme_id == programme)
        return query.subquery("pairs")
    p, t = read.enrolment.participants, read.tenders.tenders
    query = (
        select(t.c.programme_id, p.c.organisation_code)
        .join(t, t.c.tender_id == p.c.tender_id)
        .where(
            p.c.participates.is_(True),
            p.c.organisation_code.like(MUNICIPALITY),
            t.c.programme_id.is_not(None),
        )
    )
    if programme is not None:
        query = query.where(t.c.programme_id == programme)
    return query.distinct().subquery("pairs")
