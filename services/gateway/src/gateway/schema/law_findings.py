"""`lawFindings`: every rule (of procurement law, or of this registry) that imported facts do
not satisfy, across tenders and contracts, filtered and paged like the other roots.

The findings live on their tender's or contract's row (`law_findings`, a JSON list): the rows
that have any are read (with the row filters in SQL, and the same visibility as `tenders` and
`contracts`: a call-off's only for whom may see it), flattened here, filtered by code and paged
by a keyset cursor over (date, kind, id, position). Only imported records have findings, so
the rows read are few. Findings carry no severity; each says whose rule it is (`source`: an
article of law, or `System` for a registry rule such as CONTRACTING_AUTHORITY_UNIDENTIFIED).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import Enum
from typing import Any

import strawberry
from sqlalchemy import String, cast, select
from sqlalchemy.engine import RowMapping

from contracts_schema.errors import shown
from contracts_schema.refusals import REFUSALS
from gateway.schema.context import Info
from gateway.schema.errors import InvalidArgument
from gateway.schema.filters import DateRange, contracts_visible
from gateway.schema.pagination import (
    Connection,
    Edge,
    PageInfo,
    Tag,
    arguments,
    cursor_tag,
    decode_tagged,
    encode_tagged,
)
from gateway.schema.registry_types import (
    FINDING_SOURCE,
    Contract,
    Tender,
    finding_source,
    may_see_contract,
)


@strawberry.enum(description="What a finding is about.")
class FindingOn(Enum):
    TENDER = "tender"
    CONTRACT = "contract"


@strawberry.input(description="Which law findings; every field narrows, all are optional.")
class LawFindingFilter:
    code: list[str] | None = strawberry.field(
        default=None, description="Findings of any of these rules, e.g. STANDSTILL_NOT_ENDED."
    )
    on: FindingOn | None = strawberry.field(
        default=None, description="Only the findings on tenders, or only those on contracts."
    )
    contracting_authority: str | None = strawberry.field(
        default=None, description="Findings on the procurements of this buyer (organisation code)."
    )
    tender_id: str | None = strawberry.field(
        default=None,
        description="Findings on this tender and its contracts (an imported tender's id is its"
        " ocid).",
    )
    contract_id: str | None = strawberry.field(
        default=None, description="Findings on this contract."
    )
    dated: DateRange | None = strawberry.field(
        default=None,
        description="Findings on tenders planned, or contracts signed, within these days.",
    )


@strawberry.type(description="A law finding with what it was found on.")
class LawFindingRecord:
    code: str = strawberry.field(description="The rule's refusal code.")
    message: str = strawberry.field(description="The rule, named, with the facts that broke it.")
    subject: str | None = strawberry.field(description="What it is about: a lot, a contract.")
    source: str = strawberry.field(description=FINDING_SOURCE)
    on: FindingOn
    tender_id: str | None = strawberry.field(description="The tender (or the contract's tender).")
    contract_id: str | None = strawberry.field(description="The contract, for a contract's.")
    contracting_authority_code: str
    dated: date = strawberry.field(
        description="The day the tender was planned, or the contract signed."
    )
    _row: strawberry.Private[RowMapping]

    @strawberry.field(description="The tender it was found on, or the contract's tender.")
    async def tender(self, info: Info) -> Tender | None:
        if self.on is FindingOn.TENDER:
            return Tender.from_row(self._row)
        row = await info.context.loaders.tender.load(self.tender_id) if self.tender_id else None
        return Tender.from_row(row) if row else None

    @strawberry.field(description="The contract it was found on (contract findings only).")
    def contract(self) -> Contract | None:
        return Contract.from_row(self._row) if self.on is FindingOn.CONTRACT else None


Key = tuple[str, str, str, int]  # (date, kind, id, position): unique, in page order


def _records(on: FindingOn, rows: Iterable[RowMapping]) -> list[tuple[Key, LawFindingRecord]]:
    found = []
    for r in rows:
        tender = on is FindingOn.TENDER
        rid = r["tender_id"] if tender else r["contract_id"]
        dated = r["planned_on"] if tender else r["signed_on"]
        for i, f in enumerate(r["law_findings"] or []):
            record = LawFindingRecord(
                code=f["code"], message=f["message"], subject=f.get("subject"),
                source=finding_source(f["code"]), on=on,
                tender_id=r["tender_id"], contract_id=None if tender else rid,
                contracting_authority_code=r["contracting_authority"], dated=dated, _row=r,
            )  # fmt: skip
            found.append(((dated.isoformat(), on.value, rid, i), record))
    return found


# A cursor names its list and a fingerprint of the arguments that chose the page (cursor20),
# as every keyset list's does: another filter's cursor, or another list's, is refused.
ORDER = [("dated", False), ("on", False), ("id", False), ("position", False)]


def _key(cursor: str, tag: Tag) -> Key:
    dated, kind, rid, i = decode_tagged(cursor, tag, len(ORDER))
    try:
        return (str(dated), str(kind), str(rid), int(i))
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(
            f"`after` is not a cursor of this list (`lawFindings`): {shown(cursor)}",
            field="after",
        ) from exc


async def law_findings(
    info: Info, f: LawFindingFilter, first: int | None, after: str | None
) -> Connection[LawFindingRecord]:
    cap = info.context.settings.max_page_size
    size = cap if first is None else first
    if size < 0 or size > cap:
        raise InvalidArgument(f"`first` must be between 0 and {cap}; got {first}")
    if f.dated is not None and f.dated.from_ > f.dated.to:
        raise InvalidArgument(
            f"`filter.dated`: the range ends ({f.dated.to}) before it starts ({f.dated.from_}):"
            " from is the first day, to the last (both inclusive)"
        )
    tag = cursor_tag("lawFindings", arguments(info), ORDER)
    start = None if after is None else _key(after, tag)  # refused before anything is read
    read = info.context.read
    found: list[tuple[Key, LawFindingRecord]] = []
    if f.on in (None, FindingOn.TENDER) and f.contract_id is None:
        t = read.tenders.tenders
        query = select(t).where(cast(t.c.law_findings, String) != "[]")
        if f.contracting_authority:
            query = query.where(t.c.contracting_authority == f.contracting_authority)
        if f.tender_id:
            query = query.where(t.c.tender_id == f.tender_id)
        if f.dated:
            query = query.where(t.c.planned_on >= f.dated.from_, t.c.planned_on <= f.dated.to)
        found += _records(FindingOn.TENDER, await read.rows(query))
    if f.on in (None, FindingOn.CONTRACT):
        c = read.contracts.contracts
        query = select(c).where(
            cast(c.c.law_findings, String) != "[]", contracts_visible(info.context.principal, c)
        )
        if f.contracting_authority:
            query = query.where(c.c.contracting_authority == f.contracting_authority)
        if f.tender_id:
            query = query.where(c.c.tender_id == f.tender_id)
        if f.contract_id:
            query = query.where(c.c.contract_id == f.contract_id)
        if f.dated:
            query = query.where(c.c.signed_on >= f.dated.from_, c.c.signed_on <= f.dated.to)
        rows = [r for r in await read.rows(query) if may_see_contract(info.context.principal, r)]
        found += _records(FindingOn.CONTRACT, rows)
    if f.code:
        # A misspelt code matched nothing: an empty page read as "no findings" (correct13).
        # A code since dropped from the catalogue is still asked for where findings carry it.
        unknown = sorted(set(f.code) - REFUSALS.keys() - {r.code for _, r in found})
        if unknown:
            raise InvalidArgument(
                f"`filter.code`: unknown rule code{'s' if len(unknown) > 1 else ''}"
                f" {', '.join(map(repr, unknown))}; the codes are those of"
                f" docs/refusal-codes.md (RefusalCode), e.g. {', '.join(sorted(REFUSALS)[:3])}"
            )
        found = [(k, r) for k, r in found if r.code in f.code]
    found.sort(key=lambda kr: kr[0])
    total = len(found)
    if start is not None:
        found = [(k, r) for k, r in found if k > start]
    edges = [Edge(cursor=encode_tagged(tag, list(k)), node=r) for k, r in found[:size]]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(found) > size, end_cursor=edges[-1].cursor if edges else None
        ),
        total_count=total,
    )


@strawberry.type
class LawFindingsQuery:
    @strawberry.field(
        description="Every rule, of procurement law or (`source` System) of this registry, that"
        " imported facts do not satisfy, on"
        " tenders and contracts (as `Tender.lawFindings`/`Contract.lawFindings`), by date"
        " then record; keyset-paged."
    )
    async def law_findings(
        self,
        info: Info,
        filter: LawFindingFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        consistency_token: str | None = None,
    ) -> Connection[LawFindingRecord]:
        await info.context.consistent(consistency_token)
        return await law_findings(info, filter or LawFindingFilter(), first, after)


__all__: list[Any] = ["LawFindingFilter", "LawFindingRecord", "LawFindingsQuery"]
