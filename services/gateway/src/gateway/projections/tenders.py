"""Programmes, tenders and their lots: an image of the registry's programme and tender folds."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Column, Date, Integer, MetaData, String, Table

from contracts_schema.folds import FOLDS
from contracts_schema.registry.state import ProgrammeState, TenderState, TenderStatus
from contracts_schema.subjects import REGISTRY, BoundedContext
from eventstore.bitemporal_sql import versioned_table
from eventstore.timeline import Image
from eventstore.versioned import Reading, VersionedProjection
from gateway.projections.common import reading


class TendersProjection(VersionedProjection):
    name = "tenders"
    version = 2
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY,)
    # Contracts are ContractsProjection's.
    ignored: ClassVar[frozenset[str]] = frozenset(
        m.event_type for m in FOLDS["registry", "contract"].events
    )

    def define(self, metadata: MetaData) -> None:
        p = self.key
        self.programmes = versioned_table(
            f"{p}_programmes",
            metadata,
            Column("programme_id", String(128), nullable=False),
            Column("name", String(300), nullable=False),
            Column("description", String(2000)),
            Column("coordinator", String(40)),
            Column("predecessor_id", String(128)),
            Column("successor_id", String(128)),
            Column("started_on", Date, nullable=False),
            key=["programme_id"],
        )
        self.tenders = versioned_table(
            f"{p}_tenders",
            metadata,
            Column("tender_id", String(128), nullable=False),
            Column("programme_id", String(128), index=True),
            Column("title", String(500), nullable=False),
            Column("contracting_authority", String(40), nullable=False, index=True),
            Column("procedure", String(80), nullable=False),
            Column("framework", Boolean, nullable=False),
            Column("phase", String(40), nullable=False, index=True),
            Column("planned_on", Date, nullable=False),
            Column("prior_notice_on", Date),
            Column("prior_notice_reference", String(200)),
            Column("market_consultation_from", Date),
            Column("market_consultation_to", Date),
            Column("published_on", Date),
            Column("notice_reference", String(200)),
            Column("participant_list_frozen_on", Date),
            Column("corrections", Integer, nullable=False),
            Column("clarifications", Integer, nullable=False),
            Column("paused_on", Date),
            Column("cancelled_on", Date),
            Column("cancellation_reason", String(2000)),
            Column("successor_id", String(128)),
            key=["tender_id"],
        )
        self.lots = versioned_table(
            f"{p}_lots",
            metadata,
            Column("tender_id", String(128), nullable=False),
            Column("lot_id", String(128), nullable=False),
            Column("position", Integer, nullable=False),
            Column("title", String(500), nullable=False),
            Column("status", String(40), nullable=False),
            Column("bidder_ids", JSON, nullable=False),
            Column("bid_count", Integer),
            Column("supplier_ids", JSON, nullable=False),
            Column("decision_sent_on", Date),
            Column("standstill_ends_on", Date),
            Column("standstill_ended_on", Date),
            Column("review_pending", Boolean, nullable=False),
            Column("review_forum", String(200)),
            Column("review_outcome", String(40)),
            Column("awarded_on", Date),
            Column("cancelled_on", Date),
            key=["tender_id", "lot_id"],
        )

    def versioned(self) -> dict[str, Table]:
        return {"programmes": self.programmes, "tenders": self.tenders, "lots": self.lots}

    def readings(self) -> dict[str, Reading]:
        return {
            "programme": reading(FOLDS["registry", "programme"], programme_rows),
            "tender": reading(FOLDS["registry", "tender"], tender_rows),
        }


def programme_rows(state: ProgrammeState) -> Image:
    if not state.exists:
        return {}
    successors = state.successor_programme_ids
    row: dict[str, Any] = {
        "programme_id": state.programme_id,
        "name": state.name,
        "description": state.description,
        "coordinator": state.coordinator or None,
        "predecessor_id": state.predecessor_programme_id,
        "successor_id": successors[-1] if successors else None,
        "started_on": state.planned_on,
    }
    return {("programmes", (state.programme_id,)): row}


def tender_rows(state: TenderState) -> Image:
    if not state.exists:
        return {}
    tid = state.tender_id
    successors = state.successor_tender_ids
    rows: Image = {
        ("tenders", (tid,)): {
            "tender_id": tid,
            "programme_id": state.programme_id,
            "title": state.title,
            "contracting_authority": state.contracting_authority,
            "procedure": str(state.procedure),
            "framework": state.framework,
            "phase": state.phase.value,
            "planned_on": state.planned_on,
            "prior_notice_on": state.prior_notice_published_on,
            "prior_notice_reference": state.prior_notice_reference,
            "market_consultation_from": state.market_consultation_started_on,
            "market_consultation_to": state.market_consultation_ended_on,
            "published_on": state.published_on,
            "notice_reference": state.notice_reference,
            "participant_list_frozen_on": state.participant_list_frozen_on,
            "corrections": len(state.corrections),
            "clarifications": len(state.clarifications),
            "paused_on": state.paused_on if state.status is TenderStatus.PAUSED else None,
            "cancelled_on": state.cancelled_on,
            "cancellation_reason": state.cancellation_reason,
            "successor_id": successors[-1] if successors else None,
        }
    }
    for position, lot in enumerate(state.lots):
        review = lot.review
        rows["lots", (tid, lot.lot_id)] = {
            "tender_id": tid,
            "lot_id": lot.lot_id,
            "position": position,
            "title": lot.title,
            "status": lot.status.value,
            "bidder_ids": list(lot.bidder_ids),
            "bid_count": lot.bid_count,
            "supplier_ids": list(lot.supplier_ids),
            "decision_sent_on": lot.decision_sent_on,
            "standstill_ends_on": lot.standstill_ends_on,
            "standstill_ended_on": lot.standstill_ended_on,
            "review_pending": lot.review_pending,
            "review_forum": review.forum if review else None,
            "review_outcome": str(review.outcome) if review and review.outcome else None,
            "awarded_on": lot.awarded_on,
            "cancelled_on": lot.cancelled_on,
        }
    return rows
