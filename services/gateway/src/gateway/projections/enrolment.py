"""Enrolment windows, participants (who may use a joint tender's contracts) and call-offs:
an image of the enrolment service's window and call-off folds."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
)
from sqlalchemy.engine import Dialect

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import (
    EnrolmentWindowExtended,
    ParticipantEnrolled,
    ParticipantWithdrawn,
)
from contracts_schema.enrolment.state import (
    CallOffState,
    EnrolmentWindowState,
    OrganisationState,
    ParticipantState,
    ParticipantStatus,
)
from contracts_schema.folds import FOLDS
from contracts_schema.registry.state import TenderState
from contracts_schema.subjects import ENROLMENT, REGISTRY, BoundedContext
from eventstore.bitemporal_sql import versioned_table
from eventstore.bulk import Statement
from eventstore.rebuild_indexes import WRITE_PATH
from eventstore.store import StoredEvent
from eventstore.timeline import Image, Patch
from eventstore.versioned import Reading, VersionedProjection
from gateway.projections.common import reading
from gateway.projections.participation_counts import ParticipationCounts
from gateway.projections.programme_counts import UNKNOWN, ProgrammeCounts, counted_until
from gateway.projections.programme_spans import ProgrammeSpans, registry_events_ignored

# The first version with the municipalities' participation spans and total (asof20).
PARTICIPATION_SINCE = 5


class EnrolmentProjection(VersionedProjection):
    name = "enrolment"
    # 3: each tender's programme (read from the registry's tender fold) and the programme
    # spans kept from it and the participants (asof13: `projections.programme_spans`).
    # 4: each municipality's counted versions and province (the organisation fold) and the
    # running totals per programme and province kept from them and the spans (flat14:
    # `projections.programme_counts`).
    # 5: each municipality's participation spans over every programme and the running
    # total of the municipalities taking part (asof20: `projections.participation_counts`).
    version = 5
    contexts: ClassVar[tuple[BoundedContext, ...]] = (ENROLMENT, REGISTRY)
    # us/event in a rebuild (bench.rebuild_stages, 100k: 138); x0.74 with the spans and totals
    # derived once at the end (rebuild22, bench.rebuild_derived_stages, four pairs)
    rebuild_cost: ClassVar[int] = 102
    # Of the organisations only whether a municipality counts and its province is kept here
    # (the rest is OrganisationsProjection's); of the registry only the tenders' fold is
    # read here (their programme), everything else is TendersProjection's and
    # ContractsProjection's.
    ignored: ClassVar[frozenset[str]] = registry_events_ignored()

    def define(self, metadata: MetaData) -> None:
        p = self.key
        self.windows = versioned_table(
            f"{p}_windows",
            metadata,
            Column("tender_id", String(128), nullable=False),
            Column("lot_ids", JSON, nullable=False),
            Column("opens_on", Date, nullable=False),
            Column("closes_on", Date, nullable=False),
            Column("previous_round_tender_id", String(128)),
            Column("frozen_on", Date),
            key=["tender_id"],
        )
        self.participants = versioned_table(
            f"{p}_participants",
            metadata,
            Column("tender_id", String(128), nullable=False),
            Column("organisation_code", String(40), nullable=False, index=True),
            Column("lot_ids", JSON, nullable=False),
            Column("power_of_attorney_ref", String(300)),
            Column("status", String(20), nullable=False),
            Column("enrolled_on", Date),  # None: known only from the frozen list
            Column("withdrawn_on", Date),
            Column("frozen", Boolean, nullable=False),
            # Takes part (the fold's `enrolled`): once the list is frozen, exactly the list.
            Column("participates", Boolean, nullable=False),
            key=["tender_id", "organisation_code"],
            # An organisation's participations at a horizon (statistics, the buyer filter).
            horizon_indexed=["organisation_code"],
        )
        # A tender's participants at a horizon, read from this index alone: the statistics
        # per programme walk every tender's (the key index holds neither the valid end nor
        # `participates`: each version was read from the table, twice the time at 1M events).
        c = self.participants.c
        Index(
            f"ix_{p}_participants_tender",
            c.tender_id, c.known_to, c.valid_to, c.valid_from, c.known_from, c.participates,
            c.organisation_code,
        )  # fmt: skip
        self.call_offs = versioned_table(
            f"{p}_call_offs",
            metadata,
            Column("call_off_id", String(128), nullable=False),
            Column("framework_contract_id", String(128), nullable=False, index=True),
            Column("tender_id", String(128), nullable=False),
            Column("lot_id", String(128), nullable=False),
            Column("participant_code", String(40), nullable=False, index=True),
            Column("supplier_id", String(40), nullable=False, index=True),
            Column("awarded_on", Date, nullable=False),
            Column("procedure", String(40), nullable=False),
            Column("start_date", Date, nullable=False),
            Column("end_date", Date, nullable=False),
            Column("value_eur", Numeric(18, 2)),
            key=["call_off_id"],
        )
        # A tender's programme as the registry's tender fold has it (never changed once
        # planned), versioned as the tender itself: the spans below join it to the
        # participants in this read model's own transaction.
        self.tender_programmes = versioned_table(
            f"{p}_tender_programmes",
            metadata,
            Column("tender_id", String(128), nullable=False),
            Column("programme_id", String(128), nullable=False),
            key=["tender_id"],
        )
        # A programme's tenders: the spans' recompute joins the batch's dirty pairs to them,
        # so the write path needs it and a rebuild keeps it (apply15: without it every
        # batch of a rebuild joined every tender's participants). The name is the one
        # `index=True` gave it: the schema is unchanged.
        Index(
            f"ix_{p}_tender_programmes_programme_id",
            self.tender_programmes.c.programme_id,
            info={WRITE_PATH: True},
        )
        self.programme_spans = ProgrammeSpans(p, metadata)
        # A municipality while it counts in the statistics (registered; `counted_until` the
        # instant a merger takes effect), with its province: the programme totals' pieces
        # are the spans cut to these (organisations.organisation_rows, the same fold).
        self.organisation_counted = versioned_table(
            f"{p}_organisation_counted",
            metadata,
            Column("code", String(40), nullable=False),
            Column("province", String(80), nullable=False),
            Column("counted_until", BigInteger, nullable=False),
            key=["code"],
        )
        self.programme_counts = ProgrammeCounts(p, metadata)
        if self.version >= PARTICIPATION_SINCE:
            self.participation_counts = ParticipationCounts(p, metadata)
            ParticipationCounts.pieces_index(p, self.programme_counts.pieces)

    def versioned(self) -> dict[str, Table]:
        return {
            "windows": self.windows,
            "participants": self.participants,
            "call_offs": self.call_offs,
            "tender_programmes": self.tender_programmes,
            "organisation_counted": self.organisation_counted,
        }

    def readings(self) -> dict[str, Reading]:
        return {
            # A participant's row is its own state and the list's frozen mark, the window's
            # row its own fields: events that commute in the fold touch each other's rows not.
            "enrolment_window": reading(
                FOLDS["enrolment", "enrolment_window"], window_rows, window_patch, commutes=True
            ),
            "call_off": reading(FOLDS["enrolment", "call_off"], call_off_rows),
            "tender": reading(FOLDS["registry", "tender"], tender_programme_rows),
            "organisation": reading(FOLDS["enrolment", "organisation"], organisation_counted_rows),
        }

    # A rebuild from nothing may leave the spans and totals out of its batches and derive
    # them once at its end (`derived`): recomputed per batch they were about a third of this
    # read model's writes (rebuild21), each tender's pairs recomputed every batch it grew in.
    defers_derived = True

    def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> Any:
        """The versions' writes, then the programme spans of every tender the batch touched
        recomputed from them, and the programme totals of those pairs and of every pair of
        an organisation it touched (same transaction: they never disagree with the rows).
        While `deferring` (a rebuild from nothing nobody reads yet), the versions alone."""
        prepared = super().prepare(dialect, events)
        if self.deferring:
            return prepared
        touched = sorted(
            {
                e.envelope.aggregate_id
                for e in events
                if e.envelope.aggregate_type in ("enrolment_window", "tender")
            }
        )
        organisations = sorted(
            {e.envelope.aggregate_id for e in events if e.envelope.aggregate_type == "organisation"}
        )
        if touched or organisations:
            prepared.statements.extend(self._recomputed(dialect, touched, organisations))
        return prepared

    def derived(self, dialect: Dialect) -> list[Statement]:
        """Every pair's spans, pieces and totals from the finished rows, into empty tables:
        what the batches of a rebuild would have kept (every pair a tender has is dirty;
        the totals keep only their change points, whatever batches wrote them)."""
        return self._recomputed(dialect, None, [])

    def _recomputed(
        self, dialect: Dialect, touched: list[str] | None, organisations: list[str]
    ) -> list[Statement]:
        """The spans of the pairs of `touched` tenders (None: of every tender) and of the
        pairs of `organisations` recomputed, then their programme totals and, for their
        municipalities, the participation spans and total (asof20)."""
        spans = self.programme_spans
        before, after = self.programme_counts.statements(
            dialect,
            organisations,
            spans.dirty,
            spans.spans,
            self.organisation_counted,
            every=touched is None,
        )
        if self.version >= PARTICIPATION_SINCE:
            kept, recomputed = self.participation_counts.statements(
                dialect, spans.dirty, self.programme_counts.pieces
            )
            after = [*kept, *after, *recomputed]
        return spans.statements(
            dialect,
            touched,
            self.tender_programmes,
            self.participants,
            marks=before,
            then=after,
        )


def tender_programme_rows(state: TenderState) -> Image:
    """A tender's programme while the tender exists (as `tenders.tender_rows` has it)."""
    if not state.exists or state.programme_id is None:
        return {}
    tid = state.tender_id
    return {("tender_programmes", (tid,)): {"tender_id": tid, "programme_id": state.programme_id}}


def organisation_counted_rows(state: OrganisationState) -> Image:
    """A municipality while registered (as `organisations.organisation_rows` has it): its
    province and the instant it stops being counted."""
    if not state.registered or not state.code.upper().startswith("GM"):
        return {}
    return {
        ("organisation_counted", (state.code,)): {
            "code": state.code,
            "province": state.province or UNKNOWN,
            "counted_until": counted_until(state.successor_code, state.merged_on),
        }
    }


def window_rows(state: EnrolmentWindowState) -> Image:
    if not state.opened:
        return {}
    tid = state.tender_id
    rows: Image = {("windows", (tid,)): _window_row(state)}
    for p in state.participants.values():
        key, row = _participant_row(tid, p, state.frozen)
        rows[key] = row
    return rows


def window_patch(state: EnrolmentWindowState, event: DomainEvent) -> Patch | None:
    """The rows one event of a window touched (`window_rows` is the whole image).

    An enrolment or a withdrawal changes its participant's row only; an extension the
    window's row only. Opening and freezing the list may change every row: None.
    """
    if not state.opened:
        return None
    match event:
        case ParticipantEnrolled() | ParticipantWithdrawn():
            p = state.participants.get(event.organisation_code)
            if p is None:
                return None
            key, row = _participant_row(state.tender_id, p, state.frozen)
            return {key: row}
        case EnrolmentWindowExtended():
            return {("windows", (state.tender_id,)): _window_row(state)}
    return None


def _window_row(state: EnrolmentWindowState) -> dict[str, Any]:
    return {
        "tender_id": state.tender_id,
        "lot_ids": list(state.lot_ids),
        "opens_on": state.opens_on,
        "closes_on": state.closes_on,
        "previous_round_tender_id": state.previous_round_tender_id,
        "frozen_on": state.frozen_on,
    }


# A participant's row is built when its state changes: an enrolment's patch builds its own
# row, a frozen list every row (every participant's state is new then). (A cache of rows by
# participant state, from before the patches, hit almost never and cost each row a lookup and
# a store: rebuild18.)
_STATUS = {status: status.value for status in ParticipantStatus}
_ENROLLED = ParticipantStatus.ENROLLED


def _participant_row(
    tid: str, p: ParticipantState, list_frozen: bool
) -> tuple[Any, dict[str, Any]]:
    code, status = p.organisation_code, p.status
    return ("participants", (tid, code)), {
        "tender_id": tid,
        "organisation_code": code,
        "lot_ids": list(p.lot_ids),
        "power_of_attorney_ref": p.power_of_attorney_ref,
        "status": _STATUS[status],
        "enrolled_on": p.enrolled_on,
        "withdrawn_on": p.withdrawn_on,
        "frozen": p.frozen,
        "participates": status is _ENROLLED and (p.frozen or not list_frozen),
    }


def call_off_rows(state: CallOffState) -> Image:
    if not state.awarded:
        return {}  # a mini-competition under way is not a call-off yet
    return {
        ("call_offs", (state.call_off_id,)): {
            "call_off_id": state.call_off_id,
            "framework_contract_id": state.framework_contract_id,
            "tender_id": state.tender_id,
            "lot_id": state.lot_id,
            "participant_code": state.participant_code,
            "supplier_id": state.supplier_id,
            "awarded_on": state.awarded_on,
            "procedure": str(state.procedure),
            "start_date": state.start_date,
            "end_date": state.end_date,
            "value_eur": state.value_eur,
        }
    }
