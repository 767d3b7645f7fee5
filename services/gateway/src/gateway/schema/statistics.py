"""Aggregates a coordinator asks for: participation rates, counts and contract values."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from sqlalchemy import case, func, select

from gateway.privacy.small_counts import publishable
from gateway.schema import participation
from gateway.schema.context import Info
from gateway.schema.filters import contracts_visible
from gateway.schema.participation import (
    OverallParticipation,
    ProgrammeProvinceRate,
    not_merged_away,
    refuse_a_past_breakdown,
)
from gateway.schema.programme_pairs import programme_pairs, programme_province_counts

MUNICIPALITY = "GM%"  # CBS codes: every municipality, whatever its registered kind


@strawberry.type
class Count:
    key: str
    count: int


@strawberry.type
class ValueTotal:
    key: str
    contracts: int
    total_value_eur: Decimal


@strawberry.type(description="Share of the (unmerged) municipalities enrolled in a group.")
class ParticipationRate:
    key: str
    participating: int
    municipalities: int

    @strawberry.field
    def rate(self) -> float:
        return round(self.participating / self.municipalities, 4) if self.municipalities else 0.0


@strawberry.type
class Statistics:
    @strawberry.field
    async def tenders_by_phase(self, info: Info) -> list[Count]:
        t = info.context.read.tenders.tenders
        rows = await info.context.read.rows(
            select(t.c.phase, func.count()).group_by(t.c.phase).order_by(t.c.phase)
        )
        return [Count(key=r["phase"], count=r["count"]) for r in rows]

    @strawberry.field
    async def contracts_by_kind(self, info: Info) -> list[ValueTotal]:
        c = info.context.read.contracts.contracts
        rows = await info.context.read.rows(
            select(
                c.c.kind,
                func.count().label("n"),
                func.coalesce(func.sum(c.c.value_eur), 0).label("total"),
            )
            .where(contracts_visible(info.context.principal, c))
            .group_by(c.c.kind)
            .order_by(c.c.kind)
        )
        return [
            ValueTotal(key=r["kind"], contracts=r["n"], total_value_eur=Decimal(str(r["total"])))
            for r in rows
        ]

    @strawberry.field(
        description="Participation per programme; of one programme alone with `programmeId`"
        " (a programme not taking part at the horizon: an empty list)."
    )
    async def participation_by_programme(
        self, info: Info, programme_id: str | None = None
    ) -> list[ParticipationRate]:
        read = info.context.read
        total = await _municipalities(info)
        stored = await programme_province_counts(read, programme_id)
        if stored is not None:  # a past day as known now: the stored totals (flat14)
            per_programme: dict[str, int] = {}
            for programme_id, _province, n in stored:
                per_programme[programme_id] = per_programme.get(programme_id, 0) + n
            return [
                ParticipationRate(key=k, participating=n, municipalities=total)
                for k, n in per_programme.items()
            ]
        o = read.organisations.organisations
        # The municipalities counted are those of the denominator (registered, not merged
        # away by the horizon's day), as in `participation` and per province: a municipality
        # merged away still counted made a programme's rate exceed 1. The distinct pairs
        # first (stored spans at a past day: `programme_pairs`), then their organisations
        # (see participation.by_programme_and_province).
        pairs = programme_pairs(read, programme_id)
        rows = await read.rows(
            select(pairs.c.programme_id, func.count().label("n"))
            .join(o, o.c.code == pairs.c.organisation_code)
            .where(not_merged_away(info, o))
            .group_by(pairs.c.programme_id)
            .order_by(pairs.c.programme_id)
        )
        return [
            ParticipationRate(key=r["programme_id"], participating=r["n"], municipalities=total)
            for r in rows
        ]

    @strawberry.field
    async def participation_by_province(self, info: Info) -> list[ParticipationRate]:
        refuse_a_past_breakdown(info)
        read = info.context.read
        o, p = read.organisations.organisations, read.enrolment.participants
        enrolled = (
            select(p.c.organisation_code)
            .where(p.c.organisation_code == o.c.code, p.c.participates.is_(True))
            .exists()
        )
        rows = await read.rows(
            select(
                o.c.province,
                func.count().label("total"),
                func.sum(case((enrolled, 1), else_=0)).label("n"),
            )
            .where(o.c.code.like(MUNICIPALITY), not_merged_away(info, o))
            .group_by(o.c.province)
            .order_by(o.c.province)
        )
        found = [
            ParticipationRate(
                key=r["province"] or "unknown",
                participating=int(r["n"] or 0),
                municipalities=r["total"],
            )
            for r in rows
        ]
        if info.context.principal.sees_everything:
            return found
        # Small counts left out for readers who do not see every enrolment (correct11).
        return publishable(found, lambda r: (r.participating, r.municipalities))

    # Across programmes (gateway.schema.participation).
    @strawberry.field(description="Municipalities in at least one programme, of all of them.")
    async def participation(self, info: Info) -> OverallParticipation:
        return await participation.overall(info)

    @strawberry.field(
        description="Participation per programme and province; of one programme alone with"
        " `programmeId`."
    )
    async def participation_by_programme_and_province(
        self, info: Info, programme_id: str | None = None
    ) -> list[ProgrammeProvinceRate]:
        return await participation.by_programme_and_province(info, programme_id)


async def _municipalities(info: Info) -> int:
    o = info.context.read.organisations.organisations
    total = await info.context.read.scalar(
        select(func.count()).where(o.c.code.like(MUNICIPALITY), not_merged_away(info, o))
    )
    return int(total or 0)
