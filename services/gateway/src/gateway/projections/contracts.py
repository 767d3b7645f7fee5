"""Contracts of every kind (framework, call-off, plain, negotiated terms) and their suppliers:
an image of the registry's contract fold and of the enrolment service's call-off fold.

A call-off concluded with AwardCallOff is a contract under its call-off id (the two services
refuse an id the other uses: CONTRACT_ID_TAKEN): kind call_off, its participant as the
contracting authority, its award day as the signature day, its one lot, its one supplier.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import JSON, Boolean, Column, Date, Index, MetaData, Numeric, String, Table
from sqlalchemy.engine import Dialect

from contracts_schema.enrolment.state import CallOffState
from contracts_schema.folds import FOLDS
from contracts_schema.registry.state import ContractKind, ContractState, ContractStatus
from contracts_schema.subjects import ENROLMENT, REGISTRY, BoundedContext
from eventstore.bitemporal_sql import HORIZON, versioned_table
from eventstore.bulk import Statement
from eventstore.timeline import Image
from eventstore.versioned import Corners, Reading, VersionedProjection
from gateway.projections.common import reading
from gateway.projections.status_counts import StatusCorners
from gateway.projections.supplier_counts import SupplierCounts
from gateway.projections.tenders import findings

# The first version whose contracts hold whether an imported source stated the signing day
# and the start (import30).
MARKS_SINCE = 6
# The first version whose contracts hold whether an imported source stated the end (import33).
END_MARK_SINCE = 7
# The first version whose supplier rows' corners are stored per supplier (asof20).
SUPPLIER_COUNTS_SINCE = 8
# The first version whose supplier rows are indexed by supplier and contract (asof22): a
# supplier's page walks them in the contracts' order and stops at its end.
SUPPLIER_ORDER_SINCE = 9


class ContractsProjection(VersionedProjection):
    name = "contracts"
    # v3: call-offs (ENROLMENT) are contracts too; v4: law findings; v5: the status counts;
    # v6: whether an imported contract's signing day and start were stated (import30);
    # v7: whether its end was (import33); v8: a supplier's contracts counted from stored
    # corners (asof20, `supplier_counts`); v9: a supplier's rows indexed in the contracts'
    # order (asof22, `SUPPLIER_ORDER_SINCE`)
    version = 9
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY, ENROLMENT)
    rebuild_cost: ClassVar[int] = 59  # us/event in a rebuild (bench.rebuild_stages, 100k)
    # Programmes and tenders are TendersProjection's; organisations and windows are others'.
    ignored: ClassVar[frozenset[str]] = frozenset(
        m.event_type
        for fold in (
            FOLDS["registry", "programme"],
            FOLDS["registry", "tender"],
            FOLDS["enrolment", "organisation"],
            FOLDS["enrolment", "enrolment_window"],
        )
        for m in fold.events
    )

    def define(self, metadata: MetaData) -> None:
        p = self.key
        # What an imported source stated (MARKS_SINCE): an older version serving while this
        # one rebuilds was created without them, and is defined as it was created.
        marks: list[Column[object]] = []
        if self.version >= MARKS_SINCE:
            marks = [
                Column("signed_on_stated", Boolean, nullable=False),
                Column("start_stated", Boolean, nullable=False),
            ]
        if self.version >= END_MARK_SINCE:
            marks.append(Column("end_stated", Boolean, nullable=False))
        self.contracts = versioned_table(
            f"{p}_contracts",
            metadata,
            Column("contract_id", String(128), nullable=False),
            Column("kind", String(40), nullable=False, index=True),
            Column("title", String(500)),
            Column("framework_contract_id", String(128), index=True),
            Column("tender_id", String(128)),  # indexed with the kind, below
            Column("lot_ids", JSON, nullable=False),
            Column("contracting_authority", String(40), nullable=False, index=True),
            Column("paying_agent", String(40), index=True),  # the buyer filter
            Column("signed_on", Date, nullable=False),
            Column("start_date", Date, nullable=False),
            Column("end_date", Date, nullable=False, index=True),
            Column("max_extent_date", Date),
            Column("value_eur", Numeric(18, 2)),
            Column("status", String(20), nullable=False),
            Column("ended_on", Date),
            Column("end_reason", String(1000)),
            Column("last_amendment", String(2000)),
            Column("law_findings", JSON, nullable=False),  # of an imported contract
            *marks,
            key=["contract_id"],
            # The expiring range (see versioned_table) and the status filter (its count of
            # ~400k active contracts at 1M events read from the index alone). An end-date
            # range never takes the status index (filters.py compares `status || ''`).
            horizon_indexed=["end_date", "status"],
        )
        # A tender's contracts, and of them the kinds a participant uses (the buyer filter):
        # not the call-offs, most of a framework tender's contracts.
        Index(f"ix_{p}_contracts_tender_id", self.contracts.c.tender_id, self.contracts.c.kind)
        ordered = self.version >= SUPPLIER_ORDER_SINCE
        self.suppliers = versioned_table(
            f"{p}_contract_suppliers",
            metadata,
            Column("contract_id", String(128), nullable=False),
            Column("supplier_id", String(40), nullable=False, index=not ordered),
            Column("name", String(300)),  # None: a call-off's (the framework names it)
            Column("lot_ids", JSON, nullable=False),
            key=["contract_id", "supplier_id"],
            # a supplier's contracts at a horizon (before v9)
            horizon_indexed=[] if ordered else ["supplier_id"],
        )
        if ordered:
            # A supplier's page (`contracts(filter: {supplierId})`, ordered by contract id):
            # its rows in the contracts' order with both intervals, so the page walks them,
            # tests the horizon in the index, seeks each contract by key and stops at the
            # page's end (asof22). By v8's horizon index `(supplier_id, intervals,
            # contract_id)` every version of the supplier was read into a list first (100k
            # events: 11k of the page's 12k VM steps; asof21). It replaces that index (the
            # counts and the loaders by supplier read the supplier's rows from this one, the
            # intervals tested in it): one index to write, as before, and no other for the
            # planner to take and sort (with both, SQLite's sampled statistics chose the
            # horizon index and a sort on a small read model).
            s = self.suppliers.c
            horizon = (s[c] for c in HORIZON)
            Index(f"ix_{p}_contract_suppliers_order", s.supplier_id, s.contract_id, *horizon)

        # `contracts(filter: {status})` at a past horizon: each version's corners by status
        # (asof12, `projections.status_counts`).
        self.status_counts = StatusCorners(f"{p}_status", metadata)
        # `contracts(filter: {supplierId})`'s count: the supplier rows' corners per supplier
        # (asof20, `projections.supplier_counts`).
        self.supplier_counts = SupplierCounts(f"{p}_supplier", metadata)

    # A rebuild from nothing may leave the counted corners (the status and supplier sums)
    # out of its batches and derive them once at its end from the finished versions
    # (`derived`): staged and upserted per batch they were ~25% of this read model's
    # prepare and ~7 us/event of its write wall (rebuild21, rebuild23). A version's corners
    # are a function of its stored intervals; the batches only add them up.
    defers_derived = True

    def derived(self, dialect: Dialect) -> list[Statement]:
        """Every stored version's corners summed into the empty status and supplier counts:
        the rows the batches would have kept (`status_counts`, `supplier_counts`)."""
        statements = self.status_counts.derived(dialect, self.contracts)
        if self.version >= SUPPLIER_COUNTS_SINCE:
            statements += self.supplier_counts.derived(dialect, self.suppliers)
        return statements

    def versioned(self) -> dict[str, Table]:
        return {"contracts": self.contracts, "suppliers": self.suppliers}

    def counted(self) -> dict[str, str]:
        if self.deferring:
            return {}  # no corner staged: `derived` counts the finished versions
        if self.version < SUPPLIER_COUNTS_SINCE:
            return {"contracts": "status"}
        return {"contracts": "status", "suppliers": "supplier_id"}

    def corner_statements(self, dialect: Dialect, corners: dict[str, Corners]) -> list[Statement]:
        statements = []
        if "contracts" in corners:
            statements += self.status_counts.statements(dialect, corners["contracts"])
        if "suppliers" in corners:
            statements += self.supplier_counts.statements(dialect, corners["suppliers"])
        return statements

    def readings(self) -> dict[str, Reading]:
        return {
            "contract": reading(FOLDS["registry", "contract"], contract_rows),
            "call_off": reading(FOLDS["enrolment", "call_off"], call_off_rows),
        }


def contract_rows(state: ContractState) -> Image:
    if not state.exists:
        return {}
    cid = state.contract_id
    amendments = state.amendments
    rows: Image = {
        ("contracts", (cid,)): {
            "contract_id": cid,
            "kind": state.kind.value if state.kind else None,
            "title": state.title,
            "framework_contract_id": state.framework_contract_id,
            "tender_id": state.tender_id,
            "lot_ids": list(state.lot_ids),
            "contracting_authority": state.contracting_authority,
            "paying_agent": state.paying_agent,
            "signed_on": state.signed_on,
            "start_date": state.start_date,
            "end_date": state.end_date,
            "max_extent_date": state.max_extent_date,
            "value_eur": state.value_eur,
            "status": state.status.value,
            "ended_on": state.ended_on,
            "end_reason": state.end_reason,
            "last_amendment": amendments[-1].summary if amendments else None,
            "law_findings": findings(state.law_findings),
            "signed_on_stated": state.signed_on_stated,
            "start_stated": state.start_stated,
            "end_stated": state.end_stated,
        }
    }
    for supplier in state.suppliers:
        rows["suppliers", (cid, supplier.supplier_id)] = {
            "contract_id": cid,
            "supplier_id": supplier.supplier_id,
            "name": supplier.name,
            "lot_ids": list(supplier.lot_ids),
        }
    return rows


def call_off_rows(state: CallOffState) -> Image:
    """A concluded call-off as a contract; a mini-competition under way is none yet."""
    if not state.awarded:
        return {}
    cid, lots = state.call_off_id, [state.lot_id]
    rows: Image = {
        ("contracts", (cid,)): {
            "contract_id": cid,
            "kind": ContractKind.CALL_OFF.value,
            "title": None,
            "framework_contract_id": state.framework_contract_id,
            "tender_id": state.tender_id,
            "lot_ids": lots,
            "contracting_authority": state.participant_code,
            "paying_agent": None,
            "signed_on": state.awarded_on,
            "start_date": state.start_date,
            "end_date": state.end_date,
            "max_extent_date": None,
            "value_eur": state.value_eur,
            "status": ContractStatus.ACTIVE.value,
            "ended_on": None,
            "end_reason": None,
            "last_amendment": None,
            "law_findings": [],
            "signed_on_stated": True,
            "start_stated": True,
            "end_stated": True,
        },
        ("suppliers", (cid, state.supplier_id)): {
            "contract_id": cid,
            "supplier_id": state.supplier_id,
            "name": None,
            "lot_ids": lots,
        },
    }
    return rows
