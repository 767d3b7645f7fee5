"""Participation across programmes: the share of municipalities taking part anywhere, and per
programme and province (the coordinators' "almost 80% of municipalities take part")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from sqlalchemy import ColumnElement, bindparam, func, or_, select

from contracts_schema.calendar import dutch_day
from gateway.privacy.small_counts import publishable
from gateway.projections import EnrolmentProjection
from gateway.projections.enrolment import PARTICIPATION_SINCE
from gateway.readmodels import HORIZON_VALID, KNOWN_NOW, ReadModels, local_date
from gateway.schema.context import Info
from gateway.schema.errors import Forbidden
from gateway.schema.programme_pairs import programme_pairs, programme_province_counts

MUNICIPALITY = "GM%"  # CBS codes: every municipality, whatever its registered kind


def refuse_a_past_breakdown(info: Info) -> None:
    """Province breakdowns at a past `asOf`/`knownAt` only for readers who see every enrolment.

    Small counts are suppressed per answer; two answers a day apart (or either side of a
    public merger, which moves a municipality out of its province's row) differ by the
    municipalities that enrolled or left that day, which tells who (review14). At the present
    a reader sees the same difference only by watching as it happens."""
    read = info.context.read
    if info.context.principal.sees_everything or read.horizon is None or read.present:
        return
    raise Forbidden(
        "participation by province is given at a past asOf/knownAt only to coordinators and"
        " auditors (two past days compared would tell which municipality enrolled); ask"
        " without asOf/knownAt, or per programme (participationByProgramme)",
        "PAST_BREAKDOWN_FORBIDDEN",
    )


def not_merged_away(info: Info, o: Any) -> ColumnElement[bool]:
    """Organisations (`o`, the organisations table) that had not merged away by the horizon's
    day. A merger counts from the day it takes effect: one recorded ahead of its
    `effectiveOn` (decided by law for next January) leaves the municipality counted until
    then, as it still acts until then."""
    horizon = info.context.read.horizon
    day = (local_date(horizon[0]) if horizon else None) or dutch_day(datetime.now(UTC))
    return or_(o.c.merged_into.is_(None), o.c.merged_on > day)


@strawberry.type(description="Share of a province's (unmerged) municipalities in a programme.")
class ProgrammeProvinceRate:
    programme_id: str
    province: str
    participating: int
    municipalities: int

    @strawberry.field
    def rate(self) -> float:
        return round(self.participating / self.municipalities, 4) if self.municipalities else 0.0


@strawberry.type(description="Municipalities taking part in at least one programme's tender.")
class OverallParticipation:
    participating: int
    municipalities: int
    programmes: int

    @strawberry.field
    def rate(self) -> float:
        return round(self.participating / self.municipalities, 4) if self.municipalities else 0.0


def stored_participation(read: ReadModels) -> Any | None:
    """The statement giving the municipalities taking part at this request's past day as
    known now from the stored total (asof20, `projections.participation_counts`: one seek),
    else None (the present, a past known instant, or an older enrolment read model serving
    while this one rebuilds: the municipalities are tested, as before)."""
    if read.horizon is None or read.present or read.horizon[1] != KNOWN_NOW:
        return None
    enrolment = read.versions(EnrolmentProjection)
    if enrolment.version < PARTICIPATION_SINCE:
        return None
    counts = enrolment.participation_counts
    return read.statement(
        ("participation_total", counts.totals), lambda: counts.at(bindparam(HORIZON_VALID))
    )


async def overall(info: Info) -> OverallParticipation:
    read = info.context.read
    stored = stored_participation(read)
    o, p, t = read.organisations.organisations, read.enrolment.participants, read.tenders.tenders
    # Counted from the municipalities (a few hundred), each asking whether it takes part in
    # some programme's tender: the participants' organisation index holds the intervals, so
    # the first version at the horizon answers. Counting distinct codes over the join of
    # every participant with its tender read them all (1M events: 1.5M versions, 2-3 s).
    takes_part = (
        select(p.c.tender_id)
        .join(t, t.c.tender_id == p.c.tender_id)
        .where(
            p.c.organisation_code == o.c.code,
            p.c.participates.is_(True),
            t.c.programme_id.is_not(None),
        )
        .exists()
    )
    if stored is not None:
        participating = await read.scalar(stored)
    else:
        participating = await read.scalar(
            select(func.count()).where(
                o.c.code.like(MUNICIPALITY), not_merged_away(info, o), takes_part
            )
        )
    municipalities = await read.scalar(
        select(func.count()).where(o.c.code.like(MUNICIPALITY), not_merged_away(info, o))
    )
    programmes = await read.scalar(select(func.count()).select_from(read.tenders.programmes))
    return OverallParticipation(
        participating=int(participating or 0),
        municipalities=int(municipalities or 0),
        programmes=int(programmes or 0),
    )


async def by_programme_and_province(
    info: Info, programme: str | None = None
) -> list[ProgrammeProvinceRate]:
    refuse_a_past_breakdown(info)
    read = info.context.read
    o = read.organisations.organisations
    province = func.coalesce(o.c.province, "unknown")
    totals = await read.rows(
        select(province.label("province"), func.count().label("n"))
        .where(o.c.code.like(MUNICIPALITY), not_merged_away(info, o))
        .group_by(province)
    )
    municipalities = {r["province"]: int(r["n"]) for r in totals}
    # The distinct (programme, municipality) pairs first (`programme_pairs`, as
    # `participationByProgramme`), then each pair's province: joined to the
    # organisations before the distinct count, every participant version of a municipality
    # was read by the organisation index, row by row (1M events: 2-7 s).
    # At a past day as known now: the stored totals (flat14, `programme_province_counts`).
    stored = await programme_province_counts(read, programme)
    if stored is None:
        pairs = programme_pairs(read, programme)
        rows = await read.rows(
            select(pairs.c.programme_id, province.label("province"), func.count().label("n"))
            .join(o, o.c.code == pairs.c.organisation_code)
            .where(not_merged_away(info, o))
            .group_by(pairs.c.programme_id, province)
            .order_by(pairs.c.programme_id, province)
        )
        stored = [(r["programme_id"], r["province"], int(r["n"])) for r in rows]
    found = [
        ProgrammeProvinceRate(
            programme_id=programme_id,
            province=province_name,
            participating=n,
            municipalities=municipalities.get(province_name, 0),
        )
        for programme_id, province_name, n in stored
    ]
    if info.context.principal.sees_everything:
        return found
    return _publishable_per_programme(found, municipalities)


def _publishable_per_programme(
    found: list[ProgrammeProvinceRate], municipalities: dict[str, int]
) -> list[ProgrammeProvinceRate]:
    """Small counts left out (gateway.privacy.small_counts), per programme over every
    province: one without participants is a row of 0, left out like the others."""
    shown: list[ProgrammeProvinceRate] = []
    for programme_id in dict.fromkeys(r.programme_id for r in found):
        have = {r.province: r for r in found if r.programme_id == programme_id}
        partition = [
            have.get(province)
            or ProgrammeProvinceRate(
                programme_id=programme_id,
                province=province,
                participating=0,
                municipalities=total,
            )
            for province, total in sorted(municipalities.items())
        ]
        kept = publishable(partition, lambda r: (r.participating, r.municipalities))
        shown += [r for r in kept if r.participating]
    return shown
