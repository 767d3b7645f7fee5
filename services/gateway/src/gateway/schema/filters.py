"""Filter and orderBy inputs, and how each becomes SQL."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import strawberry
from sqlalchemy import ColumnElement, Select, false, or_, select

from contracts_schema.registry.state import ContractKind, ContractStatus, TenderPhase
from gateway.readmodels import ReadModels


@strawberry.enum
class Direction(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum
class TenderOrderField(Enum):
    TENDER_ID = "tender_id"
    TITLE = "title"
    PLANNED_ON = "planned_on"


@strawberry.input
class TenderOrder:
    field: TenderOrderField = TenderOrderField.TENDER_ID
    direction: Direction = Direction.ASC


@strawberry.input
class TenderFilter:
    phase: list[TenderPhase] | None = None
    programme_id: str | None = None
    contracting_authority: str | None = None
    framework: bool | None = None


@strawberry.enum
class ContractOrderField(Enum):
    CONTRACT_ID = "contract_id"
    END_DATE = "end_date"
    START_DATE = "start_date"
    SIGNED_ON = "signed_on"


@strawberry.input
class ContractOrder:
    field: ContractOrderField = ContractOrderField.CONTRACT_ID
    direction: Direction = Direction.ASC


@strawberry.input(description="Contracts whose end date lies between two dates (inclusive).")
class DateRange:
    from_: date = strawberry.field(name="from")
    to: date


@strawberry.input
class ContractFilter:
    kind: list[ContractKind] | None = None
    status: list[ContractStatus] | None = None
    supplier_id: str | None = None
    buyer: str | None = strawberry.field(
        default=None,
        description="An organisation code: contracting authority, paying agent or participant.",
    )
    tender_id: str | None = None
    expiring: DateRange | None = None


def tender_query(read: ReadModels, f: TenderFilter | None) -> Select[Any]:
    t = read.tenders.tenders
    query = select(t)
    if f is None:
        return query
    if f.phase:
        query = query.where(t.c.phase.in_([p.value for p in f.phase]))
    if f.programme_id:
        query = query.where(t.c.programme_id == f.programme_id)
    if f.contracting_authority:
        query = query.where(t.c.contracting_authority == f.contracting_authority)
    if f.framework is not None:
        query = query.where(t.c.framework == f.framework)
    return query


def contract_query(
    read: ReadModels, f: ContractFilter | None, enrolments_of: str | None = None
) -> Select[Any]:
    """`enrolments_of`: see Context.enrolments_of (a buyer's enrolments match only if visible)."""
    c = read.contracts.contracts
    query = select(c)
    if f is None:
        return query
    if f.kind:
        query = query.where(c.c.kind.in_([k.value for k in f.kind]))
    if f.status:
        query = query.where(c.c.status.in_([s.value for s in f.status]))
    if f.tender_id:
        query = query.where(c.c.tender_id == f.tender_id)
    if f.supplier_id:
        s = read.contracts.suppliers
        query = query.where(
            select(s.c.supplier_id)
            .where(s.c.contract_id == c.c.contract_id, s.c.supplier_id == f.supplier_id)
            .exists()
        )
    if f.buyer:
        p = read.enrolment.participants
        enrolled: ColumnElement[bool] = (
            select(p.c.tender_id)
            .where(
                p.c.tender_id == c.c.tender_id,
                p.c.organisation_code == f.buyer,
                p.c.participates.is_(True),
            )
            .exists()
        )
        if enrolments_of is not None and f.buyer != enrolments_of:
            enrolled = false()  # another organisation's enrolments are not the caller's to see
        query = query.where(
            or_(c.c.contracting_authority == f.buyer, c.c.paying_agent == f.buyer, enrolled)
        )
    if f.expiring:
        query = query.where(c.c.end_date >= f.expiring.from_, c.c.end_date <= f.expiring.to)
    return query
