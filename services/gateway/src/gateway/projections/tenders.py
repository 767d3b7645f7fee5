"""Programmes, tenders and their lots: an image of the registry's programme and tender folds.

A succession is declared by one side only (OT2010 names OT2006 as its predecessor, or OT2010
links OT2017 as its successor); `successions` holds each link as the declaring aggregate's
row, so a reader finds it from either end, at any horizon.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Column, Date, Integer, MetaData, String, Table
from sqlalchemy.engine import Dialect

from contracts_schema.folds import FOLDS
from contracts_schema.registry.import_events import LawFinding
from contracts_schema.registry.state import Notice, ProgrammeState, TenderState, TenderStatus
from contracts_schema.subjects import REGISTRY, BoundedContext
from eventstore.bitemporal_sql import versioned_table
from eventstore.bulk import Statement
from eventstore.timeline import Image
from eventstore.versioned import Corners, Reading, VersionedProjection
from gateway.projections.common import reading
from gateway.projections.status_counts import StatusCorners

# The first version whose tenders hold what an imported tender's source stated and the plan's
# tender period start (import22). An older version still serving while v5 rebuilds beside it
# was created without those columns: its tables are defined as it created them.
MARKS_SINCE = 5
# The first version whose tenders and lots hold whether an imported source stated their title
# (import30); an older version serving while v6 rebuilds has no such column.
TITLE_MARKS_SINCE = 6
# The first version whose tenders' versions are counted by phase from stored corners
# (asof23, `projections.status_counts`): `tenders(filter: {phase})` at a horizon.
PHASE_COUNTS_SINCE = 7


class TendersProjection(VersionedProjection):
    name = "tenders"
    # 3: every fact of the fold (pause/resume, notices, review proceedings, award revisions)
    # and the successions table.
    # v4: law findings of imported tenders. v5: what an imported tender's source stated (the
    # procedure, the publication day) and the plan's tender period start (import22).
    # v6: whether an imported tender's and lots' titles were stated (import30).
    # v7: the tenders' versions counted by phase from stored corners (asof23).
    version = 7
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY,)
    rebuild_cost: ClassVar[int] = 8  # us/event in a rebuild (bench.rebuild_stages, 100k)
    # Contracts are ContractsProjection's.
    ignored: ClassVar[frozenset[str]] = frozenset(
        m.event_type for m in FOLDS["registry", "contract"].events
    )

    def define(self, metadata: MetaData) -> None:
        p = self.key
        # In v5's column order: what the source stated, the plan's start (MARKS_SINCE).
        stated: list[Column[object]] = []
        published: list[Column[object]] = []
        if self.version >= MARKS_SINCE:
            stated = [Column("procedure_stated", Boolean, nullable=False)]
            published = [
                Column("published_on_stated", Boolean, nullable=False),
                Column("planned_tender_start", Date),  # a plan's tender period start
            ]
        titled: list[Column[object]] = []
        lot_titled: list[Column[object]] = []
        if self.version >= TITLE_MARKS_SINCE:
            titled = [Column("title_stated", Boolean, nullable=False)]
            lot_titled = [Column("title_stated", Boolean, nullable=False)]
        self.programmes = versioned_table(
            f"{p}_programmes",
            metadata,
            Column("programme_id", String(128), nullable=False),
            Column("name", String(300), nullable=False),
            Column("description", String(2000)),
            Column("coordinator", String(40)),
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
            *stated,
            Column("framework", Boolean, nullable=False),
            Column("phase", String(40), nullable=False, index=True),
            Column("planned_on", Date, nullable=False),
            Column("prior_notice_on", Date),
            Column("prior_notice_reference", String(200)),
            Column("market_consultation_from", Date),
            Column("market_consultation_to", Date),
            Column("market_consultation_summary", String(2000)),
            Column("published_on", Date),
            *published,
            Column("notice_reference", String(200)),
            Column("participant_list_frozen_on", Date),
            Column("corrections", JSON, nullable=False),
            Column("clarifications", JSON, nullable=False),
            Column("paused_on", Date),
            Column("pause_reason", String(2000)),
            Column("resumed_on", Date),
            Column("resume_reason", String(2000)),
            Column("cancelled_on", Date),
            Column("cancellation_reason", String(2000)),
            Column("law_findings", JSON, nullable=False),  # of an imported tender
            *titled,
            key=["tender_id"],
            horizon_indexed=["phase"],  # the list's filter (see versioned_table)
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
            Column("bids_received_on", Date),
            Column("supplier_ids", JSON, nullable=False),
            Column("previous_supplier_ids", JSON, nullable=False),
            Column("revision_reason", String(2000)),
            Column("withdrawn_on", Date),
            Column("withdrawal_reason", String(2000)),
            Column("decision_sent_on", Date),
            Column("standstill_ends_on", Date),
            Column("standstill_ended_on", Date),
            Column("review_pending", Boolean, nullable=False),
            Column("review_forum", String(200)),
            Column("review_started_on", Date),
            Column("review_claimant_id", String(40)),
            Column("review_reference", String(200)),
            Column("review_concluded_on", Date),
            Column("review_outcome", String(40)),
            Column("awarded_on", Date),
            Column("cancelled_on", Date),
            Column("cancellation_reason", String(2000)),
            *lot_titled,
            key=["tender_id", "lot_id"],
        )
        # One row per declared link; `declared_by` is the aggregate whose event declared it.
        self.successions = versioned_table(
            f"{p}_successions",
            metadata,
            Column("kind", String(20), nullable=False),  # "programme" or "tender"
            Column("declared_by", String(128), nullable=False),
            Column("predecessor_id", String(128), nullable=False, index=True),
            Column("successor_id", String(128), nullable=False, index=True),
            key=["kind", "declared_by", "predecessor_id", "successor_id"],
        )
        # `tenders(filter: {phase})`'s count at a horizon: each version's corners by phase
        # (asof23; as the contracts' by status since asof12). Before v7: None, rows counted.
        self.phase_counts: StatusCorners | None = None
        if self.version >= PHASE_COUNTS_SINCE:
            self.phase_counts = StatusCorners(f"{p}_phase", metadata, width=40, blocks=True)

    def versioned(self) -> dict[str, Table]:
        return {
            "programmes": self.programmes,
            "tenders": self.tenders,
            "lots": self.lots,
            "successions": self.successions,
        }

    def counted(self) -> dict[str, str]:
        return {"tenders": "phase"} if self.version >= PHASE_COUNTS_SINCE else {}

    def corner_statements(self, dialect: Dialect, corners: dict[str, Corners]) -> list[Statement]:
        if self.phase_counts is None or "tenders" not in corners:
            return []
        return self.phase_counts.statements(dialect, corners["tenders"])

    def readings(self) -> dict[str, Reading]:
        return {
            "programme": reading(FOLDS["registry", "programme"], programme_rows),
            "tender": reading(FOLDS["registry", "tender"], tender_rows),
        }


def programme_rows(state: ProgrammeState) -> Image:
    if not state.exists:
        return {}
    pid = state.programme_id
    row: dict[str, Any] = {
        "programme_id": pid,
        "name": state.name,
        "description": state.description,
        "coordinator": state.coordinator or None,
        "started_on": state.planned_on,
    }
    rows: Image = {("programmes", (pid,)): row}
    if state.predecessor_programme_id:
        rows.update(_link("programme", pid, state.predecessor_programme_id, pid))
    for successor in state.successor_programme_ids:
        rows.update(_link("programme", pid, pid, successor))
    return rows


def _link(kind: str, declared_by: str, predecessor: str, successor: str) -> Image:
    key = (kind, declared_by, predecessor, successor)
    row = {
        "kind": kind,
        "declared_by": declared_by,
        "predecessor_id": predecessor,
        "successor_id": successor,
    }
    return {("successions", key): row}


def _notices(notices: tuple[Notice, ...]) -> list[dict[str, Any]]:
    return [
        {"on": n.on.isoformat(), "summary": n.summary, "notice_reference": n.notice_reference}
        for n in notices
    ]


def findings(found: tuple[LawFinding, ...]) -> list[dict[str, Any]]:
    """The rules of procurement law an imported process's facts do not satisfy."""
    return [f.model_dump(mode="json") for f in found]


def tender_rows(state: TenderState) -> Image:
    if not state.exists:
        return {}
    tid = state.tender_id
    paused = state.status is TenderStatus.PAUSED
    rows: Image = {
        ("tenders", (tid,)): {
            "tender_id": tid,
            "programme_id": state.programme_id,
            "title": state.title,
            "contracting_authority": state.contracting_authority,
            "procedure": str(state.procedure),
            "procedure_stated": state.procedure_stated,
            "framework": state.framework,
            "phase": state.phase.value,
            "planned_on": state.planned_on,
            "prior_notice_on": state.prior_notice_published_on,
            "prior_notice_reference": state.prior_notice_reference,
            "market_consultation_from": state.market_consultation_started_on,
            "market_consultation_to": state.market_consultation_ended_on,
            "market_consultation_summary": state.market_consultation_summary,
            "published_on": state.published_on,
            "published_on_stated": state.published_on_stated,
            "planned_tender_start": state.tender_period_planned_on,
            "notice_reference": state.notice_reference,
            "participant_list_frozen_on": state.participant_list_frozen_on,
            "corrections": _notices(state.corrections),
            "clarifications": _notices(state.clarifications),
            "paused_on": state.paused_on if paused else None,
            "pause_reason": state.pause_reason if paused else None,
            "resumed_on": state.resumed_on,
            "resume_reason": state.resume_reason,
            "cancelled_on": state.cancelled_on,
            "cancellation_reason": state.cancellation_reason,
            "law_findings": findings(state.law_findings),
            "title_stated": state.title_stated,
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
            "bids_received_on": lot.received_on,
            "supplier_ids": list(lot.supplier_ids),
            "previous_supplier_ids": list(lot.previous_supplier_ids),
            "revision_reason": lot.revision_reason,
            "withdrawn_on": lot.withdrawn_on,
            "withdrawal_reason": lot.withdrawal_reason,
            "decision_sent_on": lot.decision_sent_on,
            "standstill_ends_on": lot.standstill_ends_on,
            "standstill_ended_on": lot.standstill_ended_on,
            "review_pending": lot.review_pending,
            "review_forum": review.forum if review else None,
            "review_started_on": review.started_on if review else None,
            "review_claimant_id": review.claimant_id if review else None,
            "review_reference": review.reference if review else None,
            "review_concluded_on": review.concluded_on if review else None,
            "review_outcome": str(review.outcome) if review and review.outcome else None,
            "awarded_on": lot.awarded_on,
            "cancelled_on": lot.cancelled_on,
            "cancellation_reason": lot.cancel_reason,
            "title_stated": lot.title_stated,
        }
    for successor in state.successor_tender_ids:
        rows.update(_link("tender", tid, tid, successor))
    return rows
