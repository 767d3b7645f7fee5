"""Programme, Tender, Lot, Contract, Supplier: the registry's public facts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import RowMapping
from strawberry import relay

from contracts_schema.registry.state import ContractKind, ContractStatus, LotStatus, TenderPhase
from gateway.schema.context import Info
from gateway.schema.enums import Procedure, ReviewOutcome

if TYPE_CHECKING:
    from gateway.schema.enrolment_types import CallOff, EnrolmentWindow, Organisation, Participant

ENROLMENT = "gateway.schema.enrolment_types"
LazyOrganisation = Annotated["Organisation", strawberry.lazy(ENROLMENT)]
LazyEnrolmentWindow = Annotated["EnrolmentWindow", strawberry.lazy(ENROLMENT)]
LazyParticipant = Annotated["Participant", strawberry.lazy(ENROLMENT)]
LazyCallOff = Annotated["CallOff", strawberry.lazy(ENROLMENT)]


# One vocabulary end to end: the GraphQL enums are the owner's fold enums themselves.
strawberry.enum(TenderPhase, description="Where a tender stands.")
strawberry.enum(
    LotStatus,
    description="A lot's award; an ended standstill and pending review are flags beside it.",
)
strawberry.enum(ContractKind, description="What kind of contract: framework, call-off, ...")
strawberry.enum(ContractStatus, description="Whether a contract is in force.")


@strawberry.type
class Programme(relay.Node):
    pk: relay.NodeID[str]
    programme_id: str
    name: str
    description: str | None
    coordinator: str | None
    predecessor_id: str | None
    successor_id: str | None
    started_on: date

    @classmethod
    def from_row(cls, r: RowMapping) -> Programme:
        return cls(pk=r["programme_id"], **{k: r[k] for k in PROGRAMME_FIELDS})

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Programme | None]:
        rows = await info.context.loaders.programme.load_many(list(node_ids))
        return [cls.from_row(r) if r else None for r in rows]

    @strawberry.field
    async def tenders(self, info: Info) -> list[Tender]:
        rows = await info.context.loaders.tenders_by_programme.load(self.programme_id)
        return [Tender.from_row(r) for r in rows]


PROGRAMME_FIELDS = (
    "programme_id", "name", "description", "coordinator", "predecessor_id", "successor_id",
    "started_on",
)  # fmt: skip


@strawberry.type
class Supplier(relay.Node):
    pk: relay.NodeID[str]
    supplier_id: str
    name: str

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Supplier | None]:
        rows = await info.context.loaders.supplier.load_many(list(node_ids))
        return [
            cls(pk=r["supplier_id"], supplier_id=r["supplier_id"], name=r["name"]) if r else None
            for r in rows
        ]

    @strawberry.field
    async def contracts(self, info: Info) -> list[Contract]:
        links = await info.context.loaders.supplier_contracts.load(self.supplier_id)
        rows = await info.context.loaders.contract.load_many([r["contract_id"] for r in links])
        return [Contract.from_row(r) for r in rows if r]


async def suppliers(info: Info, ids: list[str]) -> list[Supplier]:
    rows = await info.context.loaders.supplier.load_many(ids)
    return [
        Supplier(pk=i, supplier_id=i, name=r["name"] if r else i)
        for i, r in zip(ids, rows, strict=True)
    ]


@strawberry.type
class ReviewProceedings:
    forum: str
    outcome: ReviewOutcome | None


@strawberry.type
class Lot:
    tender_id: str
    lot_id: str
    title: str
    status: LotStatus
    _bidder_ids: strawberry.Private[list[str]]
    bid_count: int | None
    supplier_ids: list[str]
    decision_sent_on: date | None
    standstill_ends_on: date | None
    standstill_ended_on: date | None
    review_pending: bool
    awarded_on: date | None
    cancelled_on: date | None
    review: ReviewProceedings | None

    @classmethod
    def from_row(cls, r: RowMapping) -> Lot:
        review = (
            ReviewProceedings(forum=r["review_forum"], outcome=r["review_outcome"])
            if r["review_forum"]
            else None
        )
        return cls(
            status=LotStatus(r["status"]),
            review=review,
            _bidder_ids=r["bidder_ids"],
            **{k: r[k] for k in LOT_FIELDS},
        )

    @strawberry.field(
        description="Who bid (signed-in clients only: losing bidders are not public)."
    )
    def bidder_ids(self, info: Info) -> list[str] | None:
        info.context.require_signed_in("the bidders of a lot")
        return list(self._bidder_ids)

    @strawberry.field(description="Provisionally or definitively awarded suppliers.")
    async def suppliers(self, info: Info) -> list[Supplier]:
        return await suppliers(info, list(self.supplier_ids))


LOT_FIELDS = (
    "tender_id", "lot_id", "title", "bid_count", "supplier_ids",
    "decision_sent_on", "standstill_ends_on", "standstill_ended_on", "review_pending",
    "awarded_on", "cancelled_on",
)  # fmt: skip


@strawberry.type
class Tender(relay.Node):
    pk: relay.NodeID[str]
    tender_id: str
    programme_id: str | None
    title: str
    contracting_authority_code: str
    procedure: Procedure
    framework: bool
    phase: TenderPhase
    planned_on: date
    prior_notice_on: date | None
    prior_notice_reference: str | None
    market_consultation_from: date | None
    market_consultation_to: date | None
    published_on: date | None
    notice_reference: str | None
    participant_list_frozen_on: date | None
    corrections: int
    clarifications: int
    paused_on: date | None
    cancelled_on: date | None
    cancellation_reason: str | None
    successor_id: str | None

    @classmethod
    def from_row(cls, r: RowMapping) -> Tender:
        return cls(
            pk=r["tender_id"],
            contracting_authority_code=r["contracting_authority"],
            phase=TenderPhase(r["phase"]),
            **{k: r[k] for k in TENDER_FIELDS},
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Tender | None]:
        rows = await info.context.loaders.tender.load_many(list(node_ids))
        return [cls.from_row(r) if r else None for r in rows]

    @strawberry.field
    async def programme(self, info: Info) -> Programme | None:
        if self.programme_id is None:
            return None
        row = await info.context.loaders.programme.load(self.programme_id)
        return Programme.from_row(row) if row else None

    @strawberry.field
    async def contracting_authority(self, info: Info) -> LazyOrganisation | None:
        from gateway.schema.enrolment_types import organisation

        return await organisation(info, self.contracting_authority_code)

    @strawberry.field
    async def lots(self, info: Info) -> list[Lot]:
        return [
            Lot.from_row(r) for r in await info.context.loaders.lots_by_tender.load(self.tender_id)
        ]

    @strawberry.field
    async def enrolment_window(self, info: Info) -> LazyEnrolmentWindow | None:
        from gateway.schema.enrolment_types import EnrolmentWindow

        row = await info.context.loaders.window.load(self.tender_id)
        return EnrolmentWindow.from_row(row) if row else None

    @strawberry.field(description="Enrolled bodies; signed-in clients only.")
    async def participants(self, info: Info) -> list[LazyParticipant] | None:
        from gateway.schema.enrolment_types import Participant

        info.context.require_signed_in("the participant list")
        rows = await info.context.loaders.participants_by_tender.load(self.tender_id)
        return [Participant.from_row(r) for r in rows]

    @strawberry.field
    async def contracts(self, info: Info) -> list[Contract]:
        rows = await info.context.loaders.contracts_by_tender.load(self.tender_id)
        return [Contract.from_row(r) for r in rows]


TENDER_FIELDS = (
    "tender_id", "programme_id", "title", "procedure", "framework", "planned_on",
    "prior_notice_on", "prior_notice_reference", "market_consultation_from",
    "market_consultation_to", "published_on", "notice_reference", "participant_list_frozen_on",
    "corrections", "clarifications", "paused_on", "cancelled_on", "cancellation_reason",
    "successor_id",
)  # fmt: skip


@strawberry.type
class ContractSupplier:
    supplier_id: str
    name: str
    lot_ids: list[str]


@strawberry.type
class Contract(relay.Node):
    pk: relay.NodeID[str]
    contract_id: str
    kind: ContractKind
    title: str | None
    framework_contract_id: str | None
    tender_id: str | None
    lot_ids: list[str]
    contracting_authority_code: str
    paying_agent_code: str | None
    signed_on: date
    start_date: date
    end_date: date
    max_extent_date: date | None
    value_eur: Decimal | None
    status: ContractStatus
    ended_on: date | None
    end_reason: str | None
    last_amendment: str | None

    @classmethod
    def from_row(cls, r: RowMapping) -> Contract:
        return cls(
            pk=r["contract_id"],
            kind=ContractKind(r["kind"]),
            status=ContractStatus(r["status"]),
            contracting_authority_code=r["contracting_authority"],
            paying_agent_code=r["paying_agent"],
            **{k: r[k] for k in CONTRACT_FIELDS},
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Contract | None]:
        rows = await info.context.loaders.contract.load_many(list(node_ids))
        return [cls.from_row(r) if r else None for r in rows]

    @strawberry.field
    async def tender(self, info: Info) -> Tender | None:
        row = await info.context.loaders.tender.load(self.tender_id) if self.tender_id else None
        return Tender.from_row(row) if row else None

    @strawberry.field
    async def contracting_authority(self, info: Info) -> LazyOrganisation | None:
        from gateway.schema.enrolment_types import organisation

        return await organisation(info, self.contracting_authority_code)

    @strawberry.field
    async def suppliers(self, info: Info) -> list[ContractSupplier]:
        rows = await info.context.loaders.suppliers_by_contract.load(self.contract_id)
        return [
            ContractSupplier(supplier_id=r["supplier_id"], name=r["name"], lot_ids=r["lot_ids"])
            for r in rows
        ]

    @strawberry.field(description="A framework's participants (its tender's frozen list).")
    async def participants(self, info: Info) -> list[LazyParticipant] | None:
        from gateway.schema.enrolment_types import Participant

        info.context.require_signed_in("the participant list")
        if self.tender_id is None:
            return []
        rows = await info.context.loaders.participants_by_tender.load(self.tender_id)
        return [Participant.from_row(r) for r in rows if r["participates"]]

    @strawberry.field(description="A framework's call-offs (participants see their own only).")
    async def call_offs(self, info: Info) -> list[LazyCallOff] | None:
        from gateway.schema.enrolment_types import CallOff

        principal = info.context.require_signed_in("the call-off list")
        rows = await info.context.loaders.call_offs_by_framework.load(self.contract_id)
        return [
            CallOff.from_row(r)
            for r in rows
            if principal.may_see_organisation(r["participant_code"])
        ]


CONTRACT_FIELDS = (
    "contract_id", "title", "framework_contract_id", "tender_id", "lot_ids", "signed_on",
    "start_date", "end_date", "max_extent_date", "value_eur", "ended_on", "end_reason",
    "last_amendment",
)  # fmt: skip
