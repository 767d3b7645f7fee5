"""Filter and orderBy inputs, and how each becomes SQL."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import strawberry
from sqlalchemy import ColumnElement, Select, Table, false, or_, select, true

from contracts_schema.registry.state import ContractKind, ContractStatus, TenderPhase
from gateway.auth import Principal
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
    field: TenderOrderField = strawberry.field(
        default=TenderOrderField.TENDER_ID, description="What to sort tenders by."
    )
    direction: Direction = strawberry.field(
        default=Direction.ASC, description="Ascending (default) or descending."
    )


@strawberry.input
class TenderFilter:
    phase: list[TenderPhase] | None = strawberry.field(
        default=None, description="Tenders in any of these phases."
    )
    programme_id: str | None = strawberry.field(
        default=None, description="Tenders of this programme (e.g. OT2017)."
    )
    contracting_authority: str | None = strawberry.field(
        default=None, description="Tenders run by this organisation code."
    )
    framework: bool | None = strawberry.field(
        default=None, description="True: framework agreements only; false: none of them."
    )


@strawberry.enum
class ContractOrderField(Enum):
    CONTRACT_ID = "contract_id"
    END_DATE = "end_date"
    START_DATE = "start_date"
    SIGNED_ON = "signed_on"


@strawberry.input
class ContractOrder:
    field: ContractOrderField = strawberry.field(
        default=ContractOrderField.CONTRACT_ID, description="What to sort contracts by."
    )
    direction: Direction = strawberry.field(
        default=Direction.ASC, description="Ascending (default) or descending."
    )


@strawberry.input(description="Contracts whose end date lies between two dates (inclusive).")
class DateRange:
    from_: date = strawberry.field(name="from", description="First day (inclusive).")
    to: date = strawberry.field(description="Last day (inclusive).")


@strawberry.input
class ContractFilter:
    kind: list[ContractKind] | None = strawberry.field(
        default=None, description="Contracts of any of these kinds (CALL_OFF: call-offs)."
    )
    status: list[ContractStatus] | None = strawberry.field(
        default=None, description="Contracts in any of these statuses."
    )
    supplier_id: str | None = strawberry.field(
        default=None, description="Contracts with this supplier (KvK number)."
    )
    buyer: str | None = strawberry.field(
        default=None,
        description="An organisation code: contracting authority, paying agent or participant.",
    )
    tender_id: str | None = strawberry.field(
        default=None, description="Contracts concluded under this tender."
    )
    expiring: DateRange | None = strawberry.field(
        default=None, description="Contracts whose end date lies in this range."
    )


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


def contracts_visible(principal: Principal, c: Table) -> ColumnElement[bool]:
    """A call-off is seen by its participant, coordinators and auditors (as `callOffs`): no
    notice is required of a contract based on a framework (Directive 2014/24/EU art. 50(2))."""
    if principal.sees_everything:
        return true()
    not_a_call_off = c.c.kind != ContractKind.CALL_OFF.value
    if principal.organisation is None:
        return not_a_call_off
    return or_(not_a_call_off, c.c.contracting_authority == principal.organisation)


def contract_query(read: ReadModels, f: ContractFilter | None, principal: Principal) -> Select[Any]:
    c = read.contracts.contracts
    query = select(c).where(contracts_visible(principal, c))
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
        # A participant uses its tender's contracts; a call-off is only its own participant's
        # (its contracting authority), not every participant's of the tender.
        enrolled: ColumnElement[bool] = (
            select(p.c.tender_id)
            .where(
                p.c.tender_id == c.c.tender_id,
                p.c.organisation_code == f.buyer,
                p.c.participates.is_(True),
                c.c.kind != ContractKind.CALL_OFF.value,
            )
            .exists()
        )
        if not principal.sees_everything and f.buyer != principal.organisation:
            enrolled = false()  # another organisation's enrolments are not the caller's to see
        query = query.where(
            or_(c.c.contracting_authority == f.buyer, c.c.paying_agent == f.buyer, enrolled)
        )
    if f.expiring:
        query = query.where(c.c.end_date >= f.expiring.from_, c.c.end_date <= f.expiring.to)
    return query
