"""Programme, Tender, Lot, Contract, Supplier: the registry's public facts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import RowMapping, select
from strawberry import relay

from contracts_schema.refusals import REFUSALS
from contracts_schema.registry.events import TenderPlanned
from contracts_schema.registry.state import ContractKind, ContractStatus, LotStatus, TenderPhase
from contracts_schema.registry.values import NAMED_ONLY_PREFIX
from gateway.auth import Principal
from gateway.schema.context import Info
from gateway.schema.enums import Procedure, ReviewOutcome
from gateway.schema.selection import selected_columns

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


@strawberry.type(description="A family of joint procurements (OT2006, OT2010, OT2017, GT, ...).")
class Programme(relay.Node):
    pk: relay.NodeID[str]
    programme_id: str
    name: str
    description: str | None
    coordinator: str | None
    started_on: date = strawberry.field(description="The day the programme was planned.")

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

    @strawberry.field(
        description="The programme this one succeeds (the latest linked), whether this one"
        " named it when planned or that one linked this as its successor."
    )
    async def predecessor_id(self, info: Info) -> str | None:
        ids = await info.context.loaders.predecessors.load(("programme", self.programme_id))
        return ids[-1] if ids else None

    @strawberry.field(
        description="The programme that succeeds this one (the latest linked), whichever of"
        " the two recorded the link."
    )
    async def successor_id(self, info: Info) -> str | None:
        ids = await info.context.loaders.successors.load(("programme", self.programme_id))
        return ids[-1] if ids else None

    @strawberry.field(description="Every programme that succeeds this one, earliest link first.")
    async def successor_ids(self, info: Info) -> list[str]:
        return await info.context.loaders.successors.load(("programme", self.programme_id))


PROGRAMME_FIELDS = ("programme_id", "name", "description", "coordinator", "started_on")


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
        return contracts_seen(info, rows)


async def suppliers(info: Info, ids: list[str]) -> list[Supplier]:
    rows = await info.context.loaders.supplier.load_many(ids)
    return [
        Supplier(pk=i, supplier_id=i, name=r["name"] if r else i)
        for i, r in zip(ids, rows, strict=True)
    ]


@strawberry.type(description="The latest review proceedings (e.g. a kort geding) on a lot's award.")
class ReviewProceedings:
    forum: str = strawberry.field(description="Where, e.g. 'Rechtbank Den Haag (kort geding)'.")
    started_on: date = strawberry.field(description="The day the proceedings started.")
    reference: str | None = strawberry.field(description="The case number, if recorded.")
    concluded_on: date | None = strawberry.field(description="The day they ended; null: pending.")
    outcome: ReviewOutcome | None = strawberry.field(description="How they ended; null: pending.")
    _claimant_id: strawberry.Private[str | None]

    @strawberry.field(description="Whether they are still pending (no outcome yet).")
    def pending(self) -> bool:
        return self.concluded_on is None

    @strawberry.field(
        description="Who started them, a bidder (signed-in clients only: bidders are not public)."
    )
    def claimant_id(self, info: Info) -> str | None:
        info.context.require_signed_in("the claimant of review proceedings")
        return self._claimant_id

    @classmethod
    def from_row(cls, r: RowMapping) -> ReviewProceedings | None:
        if not r["review_forum"]:
            return None
        return cls(
            forum=r["review_forum"],
            started_on=r["review_started_on"],
            reference=r["review_reference"],
            concluded_on=r["review_concluded_on"],
            outcome=ReviewOutcome(r["review_outcome"]) if r["review_outcome"] else None,
            _claimant_id=r["review_claimant_id"],
        )


@strawberry.type
class Lot:
    tender_id: str
    lot_id: str
    title: str
    title_stated: bool = strawberry.field(
        description="False only for a lot of an imported tender whose source states no title"
        " for it (or no longer does): `title` is then the registry's default, the lot's id"
        " (or the title last stated), not a published fact."
    )
    status: LotStatus
    _bidder_ids: strawberry.Private[list[str]]
    bid_count: int | None = strawberry.field(
        description="How many tenders (bids) were received: the number of tenderers."
    )
    bids_received_on: date | None = strawberry.field(description="The day the bids were recorded.")
    supplier_ids: list[str]
    previous_supplier_ids: list[str] = strawberry.field(
        description="The suppliers of the award before its latest revision or withdrawal."
    )
    revision_reason: str | None = strawberry.field(
        description="Why the provisional award was last revised."
    )
    withdrawn_on: date | None = strawberry.field(
        description="The day the provisional award was last withdrawn (back to evaluation)."
    )
    withdrawal_reason: str | None = strawberry.field(description="Why it was withdrawn.")
    decision_sent_on: date | None
    standstill_ends_on: date | None
    standstill_ended_on: date | None
    review_pending: bool
    awarded_on: date | None
    cancelled_on: date | None
    cancellation_reason: str | None = strawberry.field(
        description="Why the lot was cancelled (its own or the whole tender's cancellation)."
    )
    review: ReviewProceedings | None = strawberry.field(
        description="The latest review proceedings on this lot's award, pending or concluded."
    )

    @classmethod
    def from_row(cls, r: RowMapping) -> Lot:
        return cls(
            status=LotStatus(r["status"]),
            review=ReviewProceedings.from_row(r),
            _bidder_ids=r["bidder_ids"],
            **{k: r[k] for k in LOT_FIELDS},
            title_stated=r.get("title_stated", True),  # (v6: TITLE_MARKS)
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
    "tender_id", "lot_id", "title", "bid_count", "bids_received_on", "supplier_ids",
    "previous_supplier_ids", "revision_reason", "withdrawn_on", "withdrawal_reason",
    "decision_sent_on", "standstill_ends_on", "standstill_ended_on", "review_pending",
    "awarded_on", "cancelled_on", "cancellation_reason",
)  # fmt: skip


@strawberry.type(
    description="A correction (rectificatie) or clarification (nota van inlichtingen)."
)
class TenderNotice:
    on: date = strawberry.field(description="The day it was published.")
    summary: str = strawberry.field(description="What it said.")
    notice_reference: str | None = strawberry.field(description="Its notice, e.g. on TenderNed.")

    @classmethod
    def from_json(cls, notices: list[dict[str, Any]]) -> list[TenderNotice]:
        return [
            cls(
                on=date.fromisoformat(n["on"]),
                summary=n["summary"],
                notice_reference=n["notice_reference"],
            )
            for n in notices
        ]


FINDING_SOURCE = (
    "Where the rule comes from, as in docs/refusal-codes.md: an article of procurement law"
    " (e.g. `Aw 2012 art. 2.127; Remedies art. 2a`), or `System` for a rule of this registry"
    " (data integrity, e.g. CONTRACTING_AUTHORITY_UNIDENTIFIED), not of the law."
)


# A code recorded once and since dropped from the catalogue: say so rather than guess its source.
UNLISTED = "Unlisted (not in the refusal catalogue)"


async def authority(info: Info, code: str, tender_id: str | None) -> Organisation | None:
    """The registered organisation of `code`; for a contracting authority published by name
    only (an imported tender's XX-NAMED-... code, which no organisation holds), that name as
    its tender's TenderPlanned carries it, kind OTHER (correct13, #17: it was null)."""
    from gateway.schema.enrolment_types import Organisation, organisation
    from gateway.schema.enums import OrganisationKind

    found = await organisation(info, code)
    if found is not None or tender_id is None or not code.startswith(NAMED_ONLY_PREFIX):
        return found
    t = info.context.read.event_log.events
    rows = await info.context.read.rows(
        select(t.c.payload)
        .where(t.c.aggregate_type == "tender", t.c.aggregate_id == tender_id)
        .where(t.c.event_type == TenderPlanned.event_type)
        .limit(1)
    )
    payload = rows[0]["payload"] if rows else None
    if not isinstance(payload, dict) or payload.get("contracting_authority") != code:
        return None
    name = payload.get("contracting_authority_name")
    if not name:
        return None
    return Organisation(pk=code, code=code, name=name, kind=OrganisationKind.OTHER,
                        province=None, merged_into=None, merged_on=None)  # fmt: skip


def finding_source(code: str) -> str:
    """The rule's source from the one refusal catalogue: a finding is not always a rule of
    law (CONTRACTING_AUTHORITY_UNIDENTIFIED is the registry's own), so say whose it is."""
    refusal = REFUSALS.get(code)
    return refusal.source if refusal is not None else UNLISTED


@strawberry.type(
    description="A rule the facts of an imported process do not satisfy, of procurement law"
    " or (`source` System) of this registry: recorded as published, not refused"
    " (docs/ocds-import.md)."
)
class LawFinding:
    code: str = strawberry.field(
        description="The refusal the rule gives, e.g. STANDSTILL_NOT_ENDED."
    )
    message: str = strawberry.field(description="The rule, named, with the facts that broke it.")
    subject: str | None = strawberry.field(description="What it is about: a lot, a contract.")
    source: str = strawberry.field(description=FINDING_SOURCE)

    @classmethod
    def from_json(cls, found: list[dict[str, Any]] | None) -> list[LawFinding]:
        return [
            cls(code=f["code"], message=f["message"], subject=f.get("subject"),
                source=finding_source(f["code"]))
            for f in found or []
        ]  # fmt: skip


FINDINGS = (
    "Rules its imported facts do not satisfy, of procurement law or of this registry (see"
    " `source`); empty for our own."
)


@strawberry.type
class Tender(relay.Node):
    pk: relay.NodeID[str]
    tender_id: str
    programme_id: str | None
    title: str
    title_stated: bool = strawberry.field(
        description="False only for an imported tender whose source states no title (or no"
        " longer does): `title` is then the registry's default, the source's ocid (or the"
        " title last stated), not a published fact."
    )
    contracting_authority_code: str
    procedure: Procedure
    procedure_stated: bool = strawberry.field(
        description="False only for an imported tender whose source states no procedure:"
        " `procedure` is then the registry's default (national), kept for the rules."
    )
    framework: bool
    phase: TenderPhase
    planned_on: date
    planned_tender_start: date | None = strawberry.field(
        description="The tender period start its plan gave (an imported plan's"
        " tenderPeriod.startDate, as a later release revised or restated it); null when none"
        " was given, or a later release no longer states one."
    )
    prior_notice_on: date | None = strawberry.field(
        description="The day a prior information notice (vooraankondiging) was published."
    )
    prior_notice_reference: str | None = strawberry.field(
        description="The prior information notice's reference."
    )
    market_consultation_from: date | None = strawberry.field(
        description="First day of the market consultation (marktconsultatie), if one was held."
    )
    market_consultation_to: date | None = strawberry.field(
        description="Last day of the market consultation."
    )
    market_consultation_summary: str | None = strawberry.field(
        description="What the market consultation found."
    )
    published_on: date | None
    published_on_stated: bool = strawberry.field(
        description="False only for an imported tender whose source states no tender period"
        " start (or no longer does): `publishedOn` is then the day of the release that"
        " published it, kept for the rules, not a published fact."
    )
    notice_reference: str | None
    participant_list_frozen_on: date | None
    corrections: list[TenderNotice] = strawberry.field(
        description="Corrections (rectificaties) of the notice, in the order published."
    )
    clarifications: list[TenderNotice] = strawberry.field(
        description="Clarifications (nota's van inlichtingen), in the order published."
    )
    paused_on: date | None = strawberry.field(description="While paused: since when.")
    pause_reason: str | None = strawberry.field(description="While paused: why.")
    resumed_on: date | None = strawberry.field(description="The day it last resumed after a pause.")
    resume_reason: str | None = strawberry.field(description="Why it last resumed.")
    cancelled_on: date | None
    cancellation_reason: str | None = strawberry.field(description="Why the tender was cancelled.")
    law_findings: list[LawFinding] = strawberry.field(description=FINDINGS)

    @classmethod
    def from_row(cls, r: RowMapping) -> Tender:
        return cls(
            pk=r["tender_id"],
            law_findings=LawFinding.from_json(r["law_findings"]),
            contracting_authority_code=r["contracting_authority"],
            procedure=Procedure(r["procedure"]),
            phase=TenderPhase(r["phase"]),
            corrections=TenderNotice.from_json(r["corrections"]),
            clarifications=TenderNotice.from_json(r["clarifications"]),
            **{k: r[k] for k in TENDER_FIELDS},
            **{k: r.get(k, unmarked) for k, unmarked in TENDER_MARKS.items()},
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
        return await authority(info, self.contracting_authority_code, self.tender_id)

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
        return contracts_seen(info, rows)

    @strawberry.field(description="The tender this one succeeds (the latest linked).")
    async def predecessor_id(self, info: Info) -> str | None:
        ids = await info.context.loaders.predecessors.load(("tender", self.tender_id))
        return ids[-1] if ids else None

    @strawberry.field(description="The tender that succeeds this one (the latest linked).")
    async def successor_id(self, info: Info) -> str | None:
        ids = await info.context.loaders.successors.load(("tender", self.tender_id))
        return ids[-1] if ids else None

    @strawberry.field(description="Every tender that succeeds this one, earliest link first.")
    async def successor_ids(self, info: Info) -> list[str]:
        return await info.context.loaders.successors.load(("tender", self.tender_id))


TENDER_FIELDS = (
    "tender_id", "programme_id", "title", "framework", "planned_on",
    "prior_notice_on", "prior_notice_reference",
    "market_consultation_from", "market_consultation_to", "market_consultation_summary",
    "published_on", "notice_reference", "participant_list_frozen_on",
    "paused_on", "pause_reason", "resumed_on", "resume_reason",
    "cancelled_on", "cancellation_reason",
)  # fmt: skip
# Held by the tenders read model since v5 (`projections.tenders.MARKS_SINCE`); an older version
# still serving while v5 rebuilds beside it has none: every fact stated, no planned start.
TENDER_MARKS: dict[str, Any] = {
    "procedure_stated": True, "published_on_stated": True, "planned_tender_start": None,
    "title_stated": True,  # since v6 (`projections.tenders.TITLE_MARKS_SINCE`)
}  # fmt: skip


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
    signed_on_stated: bool = strawberry.field(
        description="False only for an imported contract whose source states no signing day"
        " (dateSigned) or no longer does: `signedOn` is then the day of the release that"
        " recorded it (or the day last stated), kept for the rules, not a published fact."
    )
    start_date: date
    start_stated: bool = strawberry.field(
        description="False only for an imported contract whose source states no start"
        " (period.startDate) or no longer does: `startDate` is then the signing day (or the"
        " start last stated), not a published fact."
    )
    end_date: date
    end_stated: bool = strawberry.field(
        description="False only for an imported contract whose source states no end"
        " (period.endDate: none, or the 9999-12-31 that stands for no end) or no longer does:"
        " `endDate` is then 2100-12-31, the registry's last day, not a published fact; the"
        " contract runs on and never expires."
    )
    max_extent_date: date | None
    value_eur: Decimal | None
    status: ContractStatus
    ended_on: date | None
    end_reason: str | None
    last_amendment: str | None
    law_findings: list[LawFinding] = strawberry.field(description=FINDINGS)

    @classmethod
    def from_row(cls, r: RowMapping) -> Contract:
        return cls(
            pk=r["contract_id"],
            law_findings=LawFinding.from_json(r["law_findings"]),
            kind=ContractKind(r["kind"]),
            status=ContractStatus(r["status"]),
            contracting_authority_code=r["contracting_authority"],
            paying_agent_code=r["paying_agent"],
            **{k: r[k] for k in CONTRACT_FIELDS},
            **{k: r.get(k, unmarked) for k, unmarked in CONTRACT_MARKS.items()},
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Contract | None]:
        rows = await info.context.loaders.contract.load_many(list(node_ids))
        principal = info.context.principal
        return [cls.from_row(r) if r and may_see_contract(principal, r) else None for r in rows]

    @strawberry.field
    async def tender(self, info: Info) -> Tender | None:
        row = await info.context.loaders.tender.load(self.tender_id) if self.tender_id else None
        return Tender.from_row(row) if row else None

    @strawberry.field
    async def contracting_authority(self, info: Info) -> LazyOrganisation | None:
        return await authority(info, self.contracting_authority_code, self.tender_id)

    @strawberry.field
    async def suppliers(self, info: Info) -> list[ContractSupplier]:
        rows = await info.context.loaders.suppliers_by_contract.load(self.contract_id)
        # A call-off names its supplier by id; the framework's signature gave the name.
        named = await suppliers(info, [r["supplier_id"] for r in rows if r["name"] is None])
        names = {s.supplier_id: s.name for s in named}
        return [
            ContractSupplier(
                supplier_id=r["supplier_id"],
                name=r["name"] or names[r["supplier_id"]],
                lot_ids=r["lot_ids"],
            )
            for r in rows
        ]

    @strawberry.field(
        description="Who may use the contract: a framework's participants are those on its"
        " tender's frozen list for the lots it covers; a call-off's, the participant that"
        " concluded it."
    )
    async def participants(self, info: Info) -> list[LazyParticipant] | None:
        from gateway.schema.enrolment_types import PARTICIPANT_FIELDS, Participant

        info.context.require_signed_in("the participant list")
        if self.tender_id is None:
            return []
        # The columns the selection reads, and those the choice below reads.
        base = ("tender_id", "organisation_code", "participates", "lot_ids")
        columns = selected_columns(info, Participant, PARTICIPANT_FIELDS, base)
        loader = info.context.loaders.participants_by_tender.narrow(columns)
        rows = await loader.load(self.tender_id)
        return Participant.from_rows(
            contract_participants(
                self.kind is ContractKind.CALL_OFF,
                self.contracting_authority_code,
                self.lot_ids,
                rows,
            )
        )

    @strawberry.field(description="For a call-off: how it was concluded (signed-in only).")
    async def call_off(self, info: Info) -> LazyCallOff | None:
        from gateway.schema.enrolment_types import CallOff

        if self.kind is not ContractKind.CALL_OFF:
            return None
        principal = info.context.require_signed_in("a call-off")
        row = await info.context.loaders.call_off.load(self.contract_id)
        if row is None or not principal.may_see_organisation(row["participant_code"]):
            return None
        return CallOff.from_row(row)

    @strawberry.field(description="A framework's call-offs (participants see their own only).")
    async def call_offs(self, info: Info) -> list[LazyCallOff] | None:
        from gateway.schema.enrolment_types import CALL_OFF_FIELDS, CallOff

        principal = info.context.require_signed_in("the call-off list")
        # The columns the selection reads, the key and the one the access rule reads.
        base = ("call_off_id", "participant_code")
        columns = selected_columns(info, CallOff, CALL_OFF_FIELDS, base)
        loader = info.context.loaders.call_offs_by_framework.narrow(columns)
        rows = await loader.load(self.contract_id)
        return CallOff.from_rows(call_offs_seen(principal, rows))


def contract_participants(
    call_off: bool, holder: str, lot_ids: Iterable[str], rows: Iterable[RowMapping]
) -> list[RowMapping]:
    """Who may use a contract, from its tender's enrolments: a call-off's participant (its
    contracting authority), or a framework's participants on the lots it covers (no lots
    named: the whole tender)."""
    if call_off:
        return [r for r in rows if r["organisation_code"] == holder]
    lots = set(lot_ids)
    return [r for r in rows if r["participates"] and (not lots or lots & set(r["lot_ids"]))]


def call_offs_seen(principal: Principal, rows: Iterable[RowMapping]) -> list[RowMapping]:
    """A framework's call-offs as `principal` may see them: a participant its own only."""
    if principal.sees_everything:
        return list(rows)
    return [r for r in rows if principal.may_see_organisation(r["participant_code"])]


def may_see_contract(principal: Principal, r: RowMapping) -> bool:
    """As `filters.contracts_visible`: a call-off is its participant's (and coordinators' and
    auditors')."""
    kind, holder = r["kind"], r["contracting_authority"]
    return kind != ContractKind.CALL_OFF.value or principal.may_see_organisation(holder)


def contracts_seen(info: Info, rows: Iterable[RowMapping | None]) -> list[Contract]:
    principal = info.context.principal
    return [Contract.from_row(r) for r in rows if r and may_see_contract(principal, r)]


CONTRACT_FIELDS = (
    "contract_id", "title", "framework_contract_id", "tender_id", "lot_ids", "signed_on",
    "start_date", "end_date", "max_extent_date", "value_eur", "ended_on", "end_reason",
    "last_amendment",
)  # fmt: skip
# A Contract's attributes read from the column of the same name or the one named.
CONTRACT_COLUMNS = {
    **{k: k for k in (*CONTRACT_FIELDS, "kind", "status")},
    "contracting_authority_code": "contracting_authority",
    "paying_agent_code": "paying_agent",
}
# Held by the contracts read model since v6 (`projections.contracts.MARKS_SINCE`), the end's
# since v7 (`END_MARK_SINCE`, import33); an older version serving while the new one rebuilds
# has none: every day stated. Not among the columns a list
# narrows its rows to (CONTRACT_COLUMNS: v5 has no such column), so a query asking for them
# reads the rows whole.
CONTRACT_MARKS: dict[str, Any] = {
    "signed_on_stated": True,
    "start_stated": True,
    "end_stated": True,
}
CONTRACT_BASE = ("contract_id", "kind", "status")  # from_row converts these whatever is asked
