"""Filter and orderBy inputs, and how each becomes SQL."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import strawberry
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    false,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.sql import FromClause

from contracts_schema.registry.state import ContractKind, ContractStatus, TenderPhase
from gateway.auth import Principal
from gateway.projections.contracts import SUPPLIER_ORDER_SINCE, ContractsProjection
from gateway.readmodels import ReadModels
from gateway.schema.errors import InvalidArgument


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
        default=None,
        description="Contracts whose stated end date lies in this range (one whose source"
        " states no end never expires: `endStated` false, not listed).",
    )


def tender_query(
    read: ReadModels, f: TenderFilter | None, *, walked: FromClause | None = None
) -> tuple[Select[Any], dict[str, Any]]:
    """The tenders `f` asks for, as a statement kept by its shape and the values of its
    parameters (asof23; built per request before). `walked`: the tenders at the horizon as
    `status_walk.walk_view` gives them (read in key order), the phase then tested where no
    index answers it (`phase || ''`), so that the key index alone is read."""
    t: Any = read.tenders.tenders if walked is None else walked
    f = f or TenderFilter()
    parameters: dict[str, Any] = {
        "filter_phases": [p.value for p in f.phase or ()],
        "filter_programme": f.programme_id,
        "filter_authority": f.contracting_authority,
        "filter_framework": f.framework,
    }
    shape = (
        "tenders",
        t,
        bool(f.phase),
        bool(f.programme_id),
        bool(f.contracting_authority),
        f.framework is not None,
        walked,
    )

    def build() -> Select[Any]:
        query = select(t)
        if f.phase:
            phase: Any = t.c.phase if walked is None else t.c.phase.op("||")(literal_column("''"))
            query = query.where(phase.in_(bindparam("filter_phases", expanding=True)))
        if f.programme_id:
            query = query.where(t.c.programme_id == bindparam("filter_programme"))
        if f.contracting_authority:
            query = query.where(t.c.contracting_authority == bindparam("filter_authority"))
        if f.framework is not None:
            query = query.where(t.c.framework == bindparam("filter_framework"))
        return query

    return read.statement(shape, build), parameters


def contracts_visible(principal: Principal, c: Table, bound: bool = False) -> ColumnElement[bool]:
    """A call-off is seen by its participant, coordinators and auditors (as `callOffs`): no
    notice is required of a contract based on a framework (Directive 2014/24/EU art. 50(2)).
    `bound`: the organisation is the parameter VIEWER (a statement kept by shape)."""
    if principal.sees_everything:
        return true()
    not_a_call_off = c.c.kind != ContractKind.CALL_OFF.value
    if principal.organisation is None:
        return not_a_call_off
    own = bindparam(VIEWER) if bound else principal.organisation
    return or_(not_a_call_off, c.c.contracting_authority == own)


VIEWER = "viewer_organisation"
NOT_CALL_OFF = [k.value for k in ContractKind if k is not ContractKind.CALL_OFF]


def supplier_order(read: ReadModels, f: ContractFilter | None) -> Any:
    """The column a supplier's contracts are ordered by contract id with (asof22): the
    supplier rows' own `contract_id`, whose index `(supplier_id, contract_id, intervals)`
    (contracts v9, `SUPPLIER_ORDER_SINCE`) gives the page in order, the horizon tested in
    the index and each contract sought by key, stopping at the page's end. Ordered by the
    contracts' column SQLite read the supplier's versions by the horizon index and sorted
    them (asof21: 23k / 41k VM steps at 100k, twice the IN list's). None without a supplier
    filter, or while an older contracts version (no such index) serves: the IN list, as
    before."""
    if f is None or not f.supplier_id:
        return None
    if read.versions(ContractsProjection).version < SUPPLIER_ORDER_SINCE:
        return None
    return read.contracts.suppliers.c.contract_id


def contract_query(
    read: ReadModels,
    f: ContractFilter | None,
    principal: Principal,
    *,
    active_only: bool = False,
    walked: FromClause | None = None,
) -> tuple[Select[Any], dict[str, Any]]:
    """The contracts `f` asks for that `principal` may see (`active_only`: active ones), as
    a statement kept by its shape and the values of its parameters. `walked`: the contracts
    at the horizon as `status_walk.walk_view` gives them (read in key order)."""
    c: Any = read.contracts.contracts if walked is None else walked
    f = f or ContractFilter()
    if f.expiring is not None and f.expiring.from_ > f.expiring.to:
        raise InvalidArgument(
            f"the range ends ({f.expiring.to}) before it starts ({f.expiring.from_}):"
            " from is the first day, to the last (both inclusive)"
        )
    sees_everything = principal.sees_everything
    # Another organisation's enrolments are not the caller's to see.
    buyer_hidden = bool(f.buyer) and not sees_everything and f.buyer != principal.organisation
    parameters: dict[str, Any] = {
        VIEWER: principal.organisation,
        "filter_kinds": [k.value for k in f.kind or ()],
        "filter_statuses": [s.value for s in f.status or ()],
        "filter_tender": f.tender_id,
        "filter_supplier": f.supplier_id,
        "filter_buyer": f.buyer,
        "filter_from": f.expiring.from_ if f.expiring else None,
        "filter_to": f.expiring.to if f.expiring else None,
    }
    joined = walked is None and supplier_order(read, f) is not None
    shape = (
        "contracts",
        c,
        sees_everything,
        principal.organisation is None,
        active_only,
        bool(f.kind),
        bool(f.status),
        bool(f.tender_id),
        bool(f.supplier_id),
        bool(f.buyer),
        buyer_hidden,
        f.expiring is not None,
        walked,
        joined,
    )

    # With an end-date range, the range is the index to search: a status is one of three
    # values (most contracts active), yet the sampled statistics (gateway.planner) give it a
    # few hundred rows, and SQLite took `status = 'active'` over the range: on a 1M-event
    # read model the expiring page read every active version (~125 ms, against ~1 ms).
    # `status || ''` is the same test, which no index answers. The same holds beside a tender,
    # a supplier or a buyer: each of those names a few contracts, and with `status` indexed
    # (horizon_indexed) SQLite would otherwise read every active version to test them.
    # (Built in `build` alone: SQLAlchemy's operator construction cost the expiring page
    # ~10% of its CPU when it ran on every request, for a statement kept by shape.)
    # Walked in key order (status_walk), no index may answer the status either.
    narrower = f.expiring is not None or bool(f.tender_id or f.supplier_id or f.buyer)
    narrower = narrower or walked is not None

    def build() -> Select[Any]:
        status: Any = c.c.status.op("||")(literal_column("''")) if narrower else c.c.status
        query = select(c).where(contracts_visible(principal, c, bound=True))
        if f.kind:
            query = query.where(c.c.kind.in_(bindparam("filter_kinds", expanding=True)))
        if f.status:
            query = query.where(status.in_(bindparam("filter_statuses", expanding=True)))
        if f.tender_id:
            query = query.where(c.c.tender_id == bindparam("filter_tender"))
        if f.supplier_id and joined:
            # asof22: the supplier's rows at the horizon joined to their contracts (a
            # (contract, supplier) key has one version at a horizon: one row a contract);
            # the page is ordered by the rows' own contract id (`supplier_order`), so it
            # walks the supplier's order index and stops at its end.
            s = read.contracts.suppliers
            query = query.select_from(
                c.join(
                    s,
                    and_(
                        s.c.contract_id == c.c.contract_id,
                        s.c.supplier_id == bindparam("filter_supplier"),
                    ),
                )
            )
        elif f.supplier_id:
            # The supplier's contracts found from its own versions (the supplier index holds
            # the intervals and the contract), not an EXISTS asked of every contract version
            # (1M events: the count tested 470k versions, 0.4-1.8 s).
            s = read.contracts.suppliers
            query = query.where(
                c.c.contract_id.in_(
                    select(s.c.contract_id).where(s.c.supplier_id == bindparam("filter_supplier"))
                )
            )
        if f.buyer:
            buyer: Any = bindparam("filter_buyer")
            p = read.enrolment.participants
            # A participant uses its tender's contracts; a call-off is only its own
            # participant's (its contracting authority), not every participant's of the tender.
            # Each of the three found by an index (SQLite unites them: a MULTI-INDEX OR), the
            # tenders from the buyer's own participations, their contracts by tender and kind:
            # an EXISTS asked of every contract version read the whole history (1M events,
            # 0.25-0.65 s a count).
            enrolled: ColumnElement[bool] = and_(
                c.c.kind.in_(NOT_CALL_OFF),
                c.c.tender_id.in_(
                    select(p.c.tender_id).where(
                        p.c.organisation_code == buyer, p.c.participates.is_(True)
                    )
                ),
            )
            if buyer_hidden:
                enrolled = false()
            query = query.where(
                or_(c.c.contracting_authority == buyer, c.c.paying_agent == buyer, enrolled)
            )
        if f.expiring:
            query = query.where(
                c.c.end_date >= bindparam("filter_from"), c.c.end_date <= bindparam("filter_to")
            )
            if "end_stated" in c.c:  # (an older version serving during a rebuild has none)
                # A contract whose source states no end never expires (import33): its end
                # day is the registry's last, not a fact, so no range of ends lists it.
                query = query.where(c.c.end_stated.is_(True))
        if active_only:
            query = query.where(status == "active")
        return query

    # The tables the filters join (suppliers, participants) are the same version's as the
    # contracts (one projection each, taking over together with its tables).
    extra = (
        read.contracts.suppliers if f.supplier_id else None,
        read.enrolment.participants if f.buyer else None,
    )
    return read.statement((*shape, *extra), build), parameters
