"""The query root: what a coordinator asks, each answerable by a keyset connection."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from strawberry import relay
from strawberry.relay.types import GlobalIDValueError

from contracts_schema.base import ID_MAX
from contracts_schema.enrolment.provinces import PROVINCES
from contracts_schema.errors import shown
from contracts_schema.registry.state import TenderPhase
from gateway.projections import ContractsProjection, TendersProjection
from gateway.projections.contracts import SUPPLIER_COUNTS_SINCE
from gateway.projections.status_counts import horizon_parameters as corner_parameters
from gateway.projections.supplier_counts import parameters as supplier_parameters
from gateway.readmodels import KNOWN_NOW
from gateway.schema.context import Context, Info
from gateway.schema.enrolment_types import CallOff, Organisation
from gateway.schema.enums import OrganisationKind
from gateway.schema.errors import Forbidden, InvalidArgument
from gateway.schema.events import Event, EventFilter, event_log
from gateway.schema.filters import (
    ContractFilter,
    ContractOrder,
    ContractOrderField,
    DateRange,
    Direction,
    TenderFilter,
    TenderOrder,
    TenderOrderField,
    contract_query,
    supplier_order,
    tender_query,
)
from gateway.schema.health import Health
from gateway.schema.law_findings import LawFindingsQuery
from gateway.schema.pagination import Connection, page
from gateway.schema.registry_types import (
    CONTRACT_BASE,
    CONTRACT_COLUMNS,
    Contract,
    Programme,
    Supplier,
    Tender,
    contracts_seen,
)
from gateway.schema.search import name_matches
from gateway.schema.selection import node_columns
from gateway.schema.statistics import Statistics
from gateway.schema.status_walk import walk_in_key_order, walk_view

# The longest node id: a participant's "<tender id>/<organisation code>".
NODE_ID_MAX = 2 * ID_MAX + 1


@strawberry.input
class CallOffFilter:
    framework_contract_id: str | None = strawberry.field(
        default=None, description="Call-offs under this framework agreement."
    )
    participant_code: str | None = strawberry.field(
        default=None, description="Call-offs of this participant (a participant: its own only)."
    )
    supplier_id: str | None = strawberry.field(
        default=None, description="Call-offs awarded to this supplier (KvK number)."
    )


@strawberry.type
class Query(LawFindingsQuery):
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: relay.GlobalID) -> relay.Node | None:
        if len(id.node_id) > NODE_ID_MAX:  # no node has one (arguments.py: the read side's ids)
            raise InvalidArgument(
                f"`id` names a node id {len(id.node_id)} characters long; a node id is at"
                f" most {NODE_ID_MAX} characters"
            )
        try:
            return await id.resolve_node(info, required=False)
        except GlobalIDValueError as exc:
            raise InvalidArgument(f"`id` names no node type: {shown(id.type_name)}") from exc

    @strawberry.field
    async def programmes(self, info: Info, consistency_token: str | None = None) -> list[Programme]:
        await info.context.consistent(consistency_token)
        t = info.context.read.tenders.programmes
        rows = await info.context.read.rows(select(t).order_by(t.c.programme_id))
        return [Programme.from_row(r) for r in rows]

    @strawberry.field
    async def tender(
        self, info: Info, tender_id: str, consistency_token: str | None = None
    ) -> Tender | None:
        await info.context.consistent(consistency_token)
        row = await info.context.loaders.tender.load(tender_id)
        return Tender.from_row(row) if row else None

    @strawberry.field(description="Tenders by phase, programme, authority; keyset-paged.")
    async def tenders(
        self,
        info: Info,
        filter: TenderFilter | None = None,
        order_by: TenderOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        consistency_token: str | None = None,
    ) -> Connection[Tender]:
        await info.context.consistent(consistency_token)
        read = info.context.read
        o = order_by or TenderOrder()
        counted = _phase_count(info.context, filter)
        # A page in key order walks the key index when the phases asked are common at the
        # horizon (asof23, as the contracts' status page since asof15): its cost then does
        # not grow with the history; else the phase index's versions known then, sorted.
        walked = None
        if counted is not None and o.field is TenderOrderField.TENDER_ID:
            asked = EVERY_PHASE if filter is None or not filter.phase else phases(filter)
            if await walk_in_key_order(read, counted, asked, EVERY_PHASE):
                walked = walk_view(read.versions(TendersProjection).tenders)
        t = read.tenders.tenders if walked is None else walked
        desc = o.direction is Direction.DESC
        order = [(t.c[o.field.value], desc), (t.c.tender_id, desc)]
        if o.field.value == "tender_id":
            order = order[:1]
        query, parameters = tender_query(read, filter, walked=walked)
        return await page(
            info, query, order, Tender.from_row, first, after, None, parameters, counted
        )

    @strawberry.field
    async def contract(
        self, info: Info, contract_id: str, consistency_token: str | None = None
    ) -> Contract | None:
        await info.context.consistent(consistency_token)
        row = await info.context.loaders.contract.load(contract_id)
        return next(iter(contracts_seen(info, [row])), None)

    @strawberry.field(description="Contracts by kind, supplier, buyer/participant, expiry.")
    async def contracts(
        self,
        info: Info,
        filter: ContractFilter | None = None,
        order_by: ContractOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        consistency_token: str | None = None,
    ) -> Connection[Contract]:
        await info.context.consistent(consistency_token)
        read = info.context.read
        o = order_by or ContractOrder()
        counted = _status_count(info.context, filter)
        supplier_counted = _supplier_count(info.context, filter)
        # A status page at a past horizon walks the key index when the statuses asked are
        # common there (status_walk: its cost then does not grow with the history).
        walked = None
        if counted is not None and o.field is ContractOrderField.CONTRACT_ID:
            # (counted: a status-only filter)
            asked = [s.value for s in (filter.status or [])] if filter is not None else []
            if await walk_in_key_order(read, counted, asked):
                walked = walk_view(read.versions(ContractsProjection).contracts)
        c = read.contracts.contracts if walked is None else walked
        desc = o.direction is Direction.DESC
        order = [(c.c[o.field.value], desc), (c.c.contract_id, desc)]
        if o.field.value == "contract_id":
            order = order[:1]
            by_supplier = None if walked is not None else supplier_order(read, filter)
            if by_supplier is not None:  # the same values, in the supplier's index (asof22)
                order = [(by_supplier, desc)]
        query, parameters = contract_query(read, filter, info.context.principal, walked=walked)
        columns = node_columns(info, Contract, CONTRACT_COLUMNS, CONTRACT_BASE)
        narrow = None if columns is None else (c, columns)
        return await page(
            info,
            query,
            order,
            Contract.from_row,
            first,
            after,
            narrow,
            parameters,
            counted or supplier_counted,
        )

    @strawberry.field(description="Active contracts ending between two dates, soonest first.")
    async def expiring_contracts(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Contract]:
        c = info.context.read.contracts.contracts
        query, parameters = contract_query(
            info.context.read,
            ContractFilter(expiring=DateRange(from_=from_, to=to)),
            info.context.principal,
            active_only=True,
        )
        order = [(c.c.end_date, False), (c.c.contract_id, False)]
        columns = node_columns(info, Contract, CONTRACT_COLUMNS, CONTRACT_BASE)
        narrow = None if columns is None else (c, columns)
        return await page(info, query, order, Contract.from_row, first, after, narrow, parameters)

    @strawberry.field
    async def organisation(
        self, info: Info, code: str, consistency_token: str | None = None
    ) -> Organisation | None:
        await info.context.consistent(consistency_token)
        row = await info.context.loaders.organisation.load(code)
        return Organisation.from_row(row) if row else None

    @strawberry.field(description="Organisations by kind, province or a part of the name.")
    async def organisations(
        self,
        info: Info,
        kind: OrganisationKind | None = None,
        province: str | None = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Part of the name or code, any case: `amster` finds Amsterdam."
            ),
        ] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Organisation]:
        o = info.context.read.organisations.organisations
        query = select(o)
        if kind:
            query = query.where(o.c.kind == kind.value)
        if province:
            _require_province(province)
            query = query.where(o.c.province == province)
        if search and search.strip():
            query = query.where(name_matches(o, search))
        return await page(info, query, [(o.c.code, False)], Organisation.from_row, first, after)

    @strawberry.field
    async def supplier(self, info: Info, supplier_id: str) -> Supplier | None:
        found = await Supplier.resolve_nodes(info=info, node_ids=[supplier_id])
        return found[0]

    @strawberry.field(description="Call-offs; participants see only their own.")
    async def call_offs(
        self,
        info: Info,
        filter: CallOffFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        consistency_token: str | None = None,
    ) -> Connection[CallOff]:
        principal = info.context.require_signed_in("the call-off list")
        await info.context.consistent(consistency_token)
        t = info.context.read.enrolment.call_offs
        f = filter or CallOffFilter()
        query = select(t)
        if not principal.sees_everything:
            if f.participant_code and f.participant_code != principal.organisation:
                raise Forbidden(f"the call-offs of {f.participant_code} are not yours to read")
            query = query.where(t.c.participant_code == principal.organisation)
        if f.participant_code:
            query = query.where(t.c.participant_code == f.participant_code)
        if f.framework_contract_id:
            query = query.where(t.c.framework_contract_id == f.framework_contract_id)
        if f.supplier_id:
            query = query.where(t.c.supplier_id == f.supplier_id)
        return await page(info, query, [(t.c.call_off_id, False)], CallOff.from_row, first, after)

    @strawberry.field(description="The event log (signed-in; participants see their own).")
    async def events(
        self,
        info: Info,
        filter: EventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        consistency_token: str | None = None,
    ) -> Connection[Event]:
        await info.context.consistent(consistency_token)
        return await event_log(info, filter, first, after)

    @strawberry.field
    def statistics(self) -> Statistics:
        return Statistics()

    @strawberry.field(description="Projection positions, lag, parked events.")
    def health(self) -> Health:
        return Health()


def _require_province(province: str) -> None:
    """A province not on the CBS list (a misspelt "Noord Holland") matched nothing and read
    as "no organisations there" (correct13): refused, naming the twelve. A real province
    with no organisation (yet, or at a past horizon) is an empty page, not an error."""
    if province not in PROVINCES:
        raise InvalidArgument(
            f"`province`: {shown(province)} is not a province; the provinces are"
            f" {', '.join(sorted(PROVINCES))} (spelt as the CBS list spells them)"
        )


def _status_count(context: Context, f: ContractFilter | None) -> Any:
    """The count of contracts filtered by status alone at a past horizon, from the stored
    corners (asof12), for a reader who sees every contract (call-offs included); else None
    (the rows are counted, as at the present)."""
    if (
        f is None
        or not f.status
        or not context.principal.sees_everything
        or any(v is not None for k, v in vars(f).items() if k != "status")
    ):
        return None
    return context.read.status_count()


EVERY_PHASE = [p.value for p in TenderPhase]


def phases(f: TenderFilter) -> list[str]:
    return [p.value for p in f.phase or ()]


def _phase_count(context: Context, f: TenderFilter | None) -> Any:
    """The count of tenders filtered by phase alone (or not filtered) at the request's
    horizon, past or present, from their versions' stored corners by phase (asof23, tenders
    v7, `projections.status_counts`: written in the tenders' own transaction, so in step
    with their rows); else None (the rows are counted). Tenders are public: every reader
    sees the same list. An older tenders version serving while v7 rebuilds has no corners:
    its rows are counted, as before."""
    if f is not None and any(v is not None for k, v in vars(f).items() if k != "phase"):
        return None
    read = context.read
    if read.horizon is None:
        return None
    counts = read.versions(TendersProjection).phase_counts
    if counts is None:
        return None
    valid, known = read.horizon
    known_now = known == KNOWN_NOW
    statement = read.statement(
        ("phase_count", counts.points, counts.cells, counts.weeks, known_now),
        lambda: counts.count(known_now),
    )
    asked = EVERY_PHASE if f is None or not f.phase else phases(f)
    return statement, {
        **corner_parameters(valid, None if known_now else known, blocks=True),
        "filter_statuses": asked,
    }


def _supplier_count(context: Context, f: ContractFilter | None) -> Any:
    """The count of one supplier's contracts (a filter by `supplierId` alone) at the
    request's valid instant as known now, past or present, from the stored corners (asof20,
    `projections.supplier_counts`: written in the contracts' own transaction, so in step
    with their rows), for a reader who sees every contract (call-offs included); else None
    (the rows are counted: at a past known instant too). An older contracts version serving
    while this one rebuilds has no such corners: its rows are counted, as before."""
    if (
        f is None
        or not f.supplier_id
        or not context.principal.sees_everything
        or any(v is not None for k, v in vars(f).items() if k != "supplier_id")
    ):
        return None
    read = context.read
    if read.horizon is None or read.horizon[1] != KNOWN_NOW:
        return None
    contracts = read.versions(ContractsProjection)
    if contracts.version < SUPPLIER_COUNTS_SINCE:
        return None
    counts = contracts.supplier_counts
    statement = read.statement(("supplier_count", counts.points, counts.tree), counts.count)
    return statement, supplier_parameters(read.horizon[0])
