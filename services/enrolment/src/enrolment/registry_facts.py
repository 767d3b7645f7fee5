"""What the enrolment service knows of the registry: tenders, lots and signed contracts.

A projection of the REGISTRY stream into the enrolment service's own SQL tables (fed by the
ProjectionRunner, checkpoint in the same transaction). It reads the registry's typed events
(the published contract), and declares which it handles and which it ignores on purpose.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    MetaData,
    String,
    Table,
    delete,
    select,
    update,
)

from contracts_schema.base import DomainEvent
from contracts_schema.folds import FOLDS, Fold, typed_event
from contracts_schema.registry.award_events import AWARD_EVENTS
from contracts_schema.registry.events import (
    ContractAmended,
    ContractExpired,
    ContractExtended,
    ContractRestated,
    ContractSigned,
    ContractTerminated,
    ContractTransferred,
    LotCancelled,
    MarketConsultationHeld,
    PriorInformationNoticePublished,
    SuccessorTenderLinked,
    TenderCancelled,
    TenderClarified,
    TenderCorrected,
    TenderPaused,
    TenderPlanned,
    TenderPlanRevised,
    TenderPublished,
    TenderRestated,
    TenderResumed,
)
from contracts_schema.registry.import_events import IMPORT_EVENTS
from contracts_schema.registry.programme_events import PROGRAMME_EVENTS
from contracts_schema.registry.state import LotState, TenderState
from contracts_schema.registry.state.contract import OPEN_END
from contracts_schema.subjects import REGISTRY
from enrolment.domain.call_off import Framework
from enrolment.domain.enrolment_window import TenderFacts
from eventstore.projection import Projection, UndeclaredEvent, event_types, upsert
from eventstore.store import StoredEvent

TENDER: Fold[TenderState] = FOLDS[("registry", "tender")]


class RegistryFacts(Projection):
    name = "enrolment_registry_facts"
    # v2: an imported tender restated (TenderRestated) as the tender fold takes it: its title,
    # framework flag, lot titles and publication day (import22); the planning day kept.
    # v3: whether a tender's and each lot's title is stated (an imported one without it is
    # titled by the registry's default, the ocid or the lot id: import30), as the fold keeps
    # it, so a reader does not take the default for a published title (import32).
    version = 3
    contexts = (REGISTRY,)
    # Call-off rules need a tender's lots and publication and a framework's suppliers and
    # term; how a tender is awarded, paused or corrected does not change them.
    ignored = event_types(
        *PROGRAMME_EVENTS,
        *IMPORT_EVENTS,  # provenance of imported facts; the facts themselves are handled
        *AWARD_EVENTS,
        TenderPlanRevised,  # a plan's tender period: no warning or call-off reads it
        PriorInformationNoticePublished,
        MarketConsultationHeld,
        TenderCorrected,
        TenderClarified,
        TenderPaused,
        TenderResumed,
        LotCancelled,
        TenderCancelled,
        SuccessorTenderLinked,
    )
    HANDLES = event_types(
        TenderPlanned,
        TenderPublished,
        TenderRestated,  # an imported tender restated: what it gives, as the fold takes it
        ContractSigned,
        ContractExtended,
        ContractAmended,
        ContractRestated,  # an imported contract's start corrected, its extent cleared
        ContractTransferred,
        ContractTerminated,
        ContractExpired,
    )

    def handled(self) -> frozenset[str]:
        return self.HANDLES

    def define(self, metadata: MetaData) -> None:
        k = self.key
        self.tenders = Table(
            f"{k}_tenders",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("title", String(500), nullable=False),
            Column("title_stated", Boolean, nullable=False),  # v3
            Column("contracting_authority", String(64)),
            Column("framework", Boolean, nullable=False),
            Column("planned_on", Date),
            Column("published_on", Date),
            Column("notice_reference", String(200)),
        )
        self.tender_lots = Table(
            f"{k}_tender_lots",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("lot_id", String(128), primary_key=True),
            Column("title", String(500)),
            Column("title_stated", Boolean, nullable=False),  # v3
        )
        self.contracts = Table(
            f"{k}_contracts",
            metadata,
            Column("contract_id", String(128), primary_key=True),
            Column("kind", String(32), nullable=False),
            Column("tender_id", String(128)),
            Column("contracting_authority", String(64)),
            Column("start_date", Date, nullable=False),
            Column("end_date", Date, nullable=False),
            Column("max_extent_date", Date),
            Column("terminated_on", Date),
            Column("expired_on", Date),
        )
        self.contract_suppliers = Table(
            f"{k}_contract_suppliers",
            metadata,
            Column("contract_id", String(128), primary_key=True),
            Column("lot_id", String(128), primary_key=True),
            Column("supplier_id", String(128), primary_key=True),
            Column("name", String(500)),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        envelope = event.envelope
        if envelope.event_type in self.ignored:
            return
        if envelope.event_type not in self.HANDLES:
            raise UndeclaredEvent(self, envelope.event_type)
        self._apply(
            conn, typed_event(envelope.event_type, envelope.payload, envelope.schema_version)
        )

    def _apply(self, conn: Connection, fact: DomainEvent) -> None:
        match fact:
            case TenderPlanned():
                self._planned(conn, fact)
            case TenderPublished():
                conn.execute(
                    update(self.tenders)
                    .where(self.tenders.c.tender_id == fact.tender_id)
                    .values(published_on=fact.published_on, notice_reference=fact.notice_reference)
                )
            case TenderRestated():
                self._restated(conn, fact)
            case ContractSigned():
                self._signed(conn, fact)
            case ContractExtended():
                self._set(conn, fact.contract_id, end_date=fact.new_end_date)
            case ContractAmended():
                changes = {
                    column: value
                    for column, value in (
                        ("end_date", fact.new_end_date),
                        ("max_extent_date", fact.new_max_extent_date),
                    )
                    if value is not None
                }
                if changes:
                    self._set(conn, fact.contract_id, **changes)
            case ContractRestated():
                restated: dict[str, Any] = {}
                if fact.start_date is not None:
                    restated["start_date"] = fact.start_date
                if fact.max_extent_cleared:
                    restated["max_extent_date"] = None
                # An end first stated, or no longer stated (import33): as the contract fold,
                # the latter the registry's last day (the framework runs on: call-offs under
                # it are not refused as after its end).
                if fact.end_date is not None:
                    restated["end_date"] = fact.end_date
                elif fact.end_cleared:
                    restated["end_date"] = OPEN_END
                if restated:
                    self._set(conn, fact.contract_id, **restated)
            case ContractTransferred():
                self._set(conn, fact.contract_id, contracting_authority=fact.to_authority)
            case ContractTerminated():
                self._set(conn, fact.contract_id, terminated_on=fact.terminated_on)
            case ContractExpired():
                self._set(conn, fact.contract_id, expired_on=fact.expired_on)

    def _planned(self, conn: Connection, fact: TenderPlanned) -> None:
        row: dict[str, object] = {
            "tender_id": fact.tender_id,
            "title": fact.title,
            "title_stated": fact.title_stated,
            "contracting_authority": fact.contracting_authority,
            "framework": fact.framework,
            "planned_on": fact.planned_on,
        }
        upsert(conn, self.tenders, row, ["tender_id"])
        lots = self.tender_lots
        conn.execute(delete(lots).where(lots.c.tender_id == fact.tender_id))
        untitled = set(fact.untitled_lot_ids)
        for lot in fact.lots:
            lot_row: dict[str, object] = {
                "tender_id": fact.tender_id,
                "lot_id": lot.lot_id,
                "title": lot.title,
                "title_stated": lot.lot_id not in untitled,
            }
            upsert(conn, lots, lot_row, ["tender_id", "lot_id"])

    def _restated(self, conn: Connection, fact: TenderRestated) -> None:
        """What the restatement means is the tender fold's (which of the start's days it
        moves depends on whether the tender was published): the fold's `evolve` applied to
        the part of the tender this model keeps, and the changes written back."""
        t, lots = self.tenders, self.tender_lots
        row = conn.execute(select(t).where(t.c.tender_id == fact.tender_id)).first()
        if row is None:
            return  # never planned: the registry's fold refuses it, there is nothing to change
        kept = conn.execute(
            select(lots.c.lot_id, lots.c.title, lots.c.title_stated).where(
                lots.c.tender_id == fact.tender_id
            )
        ).all()
        before = TenderState(
            tender_id=fact.tender_id,
            title=row.title,
            title_stated=row.title_stated,
            contracting_authority=row.contracting_authority or "",
            framework=row.framework,
            planned_on=row.planned_on,
            published_on=row.published_on,
            lots=tuple(
                LotState(lot_id, title or "", title_stated=stated) for lot_id, title, stated in kept
            ),
        )
        after = TENDER.evolve(before, fact)
        conn.execute(
            update(t)
            .where(t.c.tender_id == fact.tender_id)
            .values(
                title=after.title,
                title_stated=after.title_stated,
                framework=after.framework,
                published_on=after.published_on,
            )
        )
        for old, new in zip(before.lots, after.lots, strict=True):
            if (new.title, new.title_stated) != (old.title, old.title_stated):
                conn.execute(
                    update(lots)
                    .where(lots.c.tender_id == fact.tender_id, lots.c.lot_id == new.lot_id)
                    .values(title=new.title, title_stated=new.title_stated)
                )

    def _signed(self, conn: Connection, fact: ContractSigned) -> None:
        row: dict[str, object] = {
            "contract_id": fact.contract_id,
            "kind": fact.kind,
            "tender_id": fact.tender_id,
            "contracting_authority": fact.contracting_authority,
            "start_date": fact.start_date,
            "end_date": fact.end_date,
            "max_extent_date": fact.max_extent_date,
        }
        upsert(conn, self.contracts, row, ["contract_id"])
        table = self.contract_suppliers
        conn.execute(delete(table).where(table.c.contract_id == fact.contract_id))
        for supplier in fact.suppliers:
            for lot_id in supplier.lot_ids or fact.lot_ids:
                upsert(
                    conn,
                    table,
                    {
                        "contract_id": fact.contract_id,
                        "lot_id": lot_id,
                        "supplier_id": supplier.supplier_id,
                        "name": supplier.name,
                    },
                    ["contract_id", "lot_id", "supplier_id"],
                )

    def _set(self, conn: Connection, contract_id: str, **values: Any) -> None:
        conn.execute(
            update(self.contracts).where(self.contracts.c.contract_id == contract_id).values(values)
        )

    # Reads (for the command side's facts loaders).

    def tender(self, conn: Connection, tender_id: str) -> TenderFacts | None:
        row = conn.execute(
            select(self.tenders).where(self.tenders.c.tender_id == tender_id)
        ).first()
        if row is None:
            return None
        lots = conn.execute(
            select(self.tender_lots.c.lot_id).where(self.tender_lots.c.tender_id == tender_id)
        ).scalars()
        return TenderFacts(tender_id, frozenset(lots), row.published_on)

    def framework(self, conn: Connection, contract_id: str) -> Framework | None:
        c = self.contracts
        row = conn.execute(select(c).where(c.c.contract_id == contract_id)).first()
        if row is None:
            return None
        s = self.contract_suppliers
        suppliers: dict[str, set[str]] = {}
        for lot_id, supplier_id in conn.execute(
            select(s.c.lot_id, s.c.supplier_id).where(s.c.contract_id == contract_id)
        ):
            suppliers.setdefault(lot_id, set()).add(supplier_id)
        return Framework(
            contract_id=contract_id,
            kind=row.kind,
            tender_id=row.tender_id,
            suppliers_by_lot={lot: frozenset(ids) for lot, ids in suppliers.items()},
            start_date=row.start_date,
            end_date=row.end_date,
            terminated_on=row.terminated_on,
        )
