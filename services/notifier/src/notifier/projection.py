"""The notifier's read model: every contract's dates and who takes part in it.

Fed by REGISTRY (contracts, tenders), ENROLMENT (organisations, frozen participant lists,
call-offs) and NOTIFIER (warnings already raised, webhook subscriptions). Disposable: it can
be rebuilt from the streams at any time.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import (
    CallOffAwarded,
    EnrolmentWindowExtended,
    EnrolmentWindowOpened,
    MiniCompetitionStarted,
    MunicipalityMerged,
    OrganisationRegistered,
    OrganisationRenamed,
    ParticipantEnrolled,
    ParticipantListFrozen,
    ParticipantWithdrawn,
)
from contracts_schema.folds import typed_event
from contracts_schema.notifier.events import (
    ExpiryWarningRaised,
    WebhookReplayRequested,
    WebhookSubscribed,
    WebhookUnsubscribed,
)
from contracts_schema.privacy import PersonErased
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
from contracts_schema.registry.state.contract import OPEN_END
from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY
from eventstore.projection import Projection, UndeclaredEvent, event_types, upsert
from eventstore.store import StoredEvent
from notifier.domain.schedule import ContractSchedule, tracked_dates, warning_key


class NotifierSchedule(Projection):
    name = "notifier_schedule"
    # v2: an organisation's merger keeps the day it takes effect (merged_on), so news of the
    # days before still reaches the municipality itself. v3: an imported tender's title as
    # restated (TenderRestated), as the tender fold takes it (import22). v4: whether the
    # title is stated (an imported tender without one is titled by its ocid: import30), so
    # the feed does not send the registry's default as a published title (import32). v5:
    # whether a contract's end is stated (import33): one whose imported source states none
    # raises no expiry warning for it (its recorded end, 2100-12-31, is no published end).
    version = 5
    contexts = (REGISTRY, ENROLMENT, NOTIFIER)
    HANDLES = event_types(
        ContractSigned,
        CallOffAwarded,
        ContractExtended,
        ContractAmended,
        ContractRestated,  # an imported contract's maximum extent no longer stated
        ContractTransferred,
        ContractTerminated,
        TenderPlanned,
        TenderRestated,  # an imported tender's title restated (the feed names it by it)
        ParticipantListFrozen,
        OrganisationRegistered,
        OrganisationRenamed,
        MunicipalityMerged,
        ExpiryWarningRaised,
        WebhookSubscribed,
        WebhookUnsubscribed,
        WebhookReplayRequested,
    )
    # Warnings follow a contract's dates and who takes part once the list is frozen; the
    # tender's procedure, the enrolment while it is open, and an expiry (its dates already
    # passed) change neither.
    ignored = event_types(
        *PROGRAMME_EVENTS,
        *IMPORT_EVENTS,  # provenance of imported facts; the facts themselves are handled
        *AWARD_EVENTS,
        TenderPlanRevised,  # a plan's tender period: no warning or call-off reads it
        PriorInformationNoticePublished,
        MarketConsultationHeld,
        TenderPublished,
        TenderCorrected,
        TenderClarified,
        TenderPaused,
        TenderResumed,
        LotCancelled,
        TenderCancelled,
        SuccessorTenderLinked,
        ContractExpired,
        EnrolmentWindowOpened,
        EnrolmentWindowExtended,
        ParticipantEnrolled,
        ParticipantWithdrawn,
        MiniCompetitionStarted,
        PersonErased,  # who acted is no part of a schedule
    )

    def handled(self) -> frozenset[str]:
        return self.HANDLES

    def define(self, metadata: MetaData) -> None:
        k = self.key
        self.contracts = Table(
            f"{k}_contracts",
            metadata,
            Column("contract_id", String(128), primary_key=True),
            Column("kind", String(32), nullable=False),
            Column("tender_id", String(128)),
            Column("lot_ids", Text, nullable=False),  # JSON list
            Column("contracting_authority", String(40)),
            Column("paying_agent", String(40)),
            Column("participant_code", String(40)),  # a call-off's participant
            Column("end_date", Date, nullable=False),
            Column("end_known_since", Date, nullable=False),
            Column("end_stated", Boolean, nullable=False),  # v5
            Column("max_extent_date", Date),
            Column("max_known_since", Date),
            Column("active", Boolean, nullable=False),
        )
        self.participants = Table(
            f"{k}_participants",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("organisation_code", String(40), primary_key=True),
            Column("lot_ids", Text, nullable=False),
        )
        self.tenders = Table(
            f"{k}_tenders",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("title", Text, nullable=False),
            Column("title_stated", Boolean, nullable=False),  # v4
            Column("contracting_authority", String(40), nullable=False),
        )
        self.organisations = Table(
            f"{k}_organisations",
            metadata,
            Column("code", String(40), primary_key=True),
            Column("name", Text, nullable=False),
            Column("successor_code", String(40)),
            Column("merged_on", Date),  # the day the merger takes effect (effectiveOn)
        )
        self.raised = Table(
            f"{k}_raised",
            metadata,
            Column("key", String(300), primary_key=True),
            Column("contract_id", String(128), nullable=False, index=True),
            Column("raised_on", Date, nullable=False),
            Column("late", Boolean, nullable=False),
        )
        self.subscriptions = Table(
            f"{k}_subscriptions",
            metadata,
            Column("subscription_id", String(128), primary_key=True),
            Column("organisation_code", String(40), nullable=False),
            Column("url", Text, nullable=False),
            Column("event_types", Text, nullable=False),  # JSON list; empty = all
            Column("active", Boolean, nullable=False),
            Column("replay_from_seq", Integer),  # the latest replay request ...
            Column("replay_request_seq", Integer),  # ... and its NOTIFIER sequence (its id)
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        envelope = event.envelope
        if envelope.event_type in self.ignored:
            return
        if envelope.event_type not in self.HANDLES:
            raise UndeclaredEvent(self, envelope.event_type)  # parked, visible, not dropped
        self._apply(
            conn, typed_event(envelope.event_type, envelope.payload, envelope.schema_version), event
        )

    def _apply(self, conn: Connection, fact: DomainEvent, event: StoredEvent) -> None:
        c = self.contracts
        match fact:
            case ContractSigned():
                self._upsert_contract(
                    conn,
                    contract_id=fact.contract_id,
                    kind=fact.kind,
                    tender_id=fact.tender_id,
                    lot_ids=json.dumps(fact.lot_ids),
                    contracting_authority=fact.contracting_authority,
                    paying_agent=fact.paying_agent,
                    end_date=fact.end_date,
                    end_known_since=fact.signed_on,
                    end_stated=fact.end_stated,
                    max_extent_date=fact.max_extent_date,
                    max_known_since=fact.signed_on if fact.max_extent_date else None,
                    active=True,
                )
            case CallOffAwarded():
                self._upsert_contract(
                    conn,
                    contract_id=fact.call_off_id,
                    kind="call_off",
                    tender_id=fact.tender_id,
                    lot_ids=json.dumps([fact.lot_id]),
                    participant_code=fact.participant_code,
                    end_date=fact.end_date,
                    end_known_since=fact.awarded_on,
                    active=True,
                )
            case ContractExtended():
                self._set(
                    conn,
                    c,
                    fact.contract_id,
                    end_date=fact.new_end_date,
                    end_known_since=fact.extended_on,
                    end_stated=True,
                )
            case ContractAmended():
                changes: dict[str, Any] = {}
                if fact.new_end_date is not None:
                    changes |= {"end_date": fact.new_end_date, "end_known_since": fact.amended_on,
                                "end_stated": True}  # fmt: skip
                if fact.new_max_extent_date is not None:
                    changes |= {
                        "max_extent_date": fact.new_max_extent_date,
                        "max_known_since": fact.amended_on,
                    }
                if changes:
                    self._set(conn, c, fact.contract_id, **changes)
            case ContractRestated():
                if fact.max_extent_cleared:
                    # No extent, no day it became known (a signing without one; review18a).
                    self._set(conn, c, fact.contract_id, max_extent_date=None, max_known_since=None)
                if fact.end_date is not None:  # an end stated at last (import33)
                    self._set(conn, c, fact.contract_id, end_date=fact.end_date,
                              end_known_since=fact.restated_on, end_stated=True)  # fmt: skip
                elif fact.end_cleared:  # no longer stated: it runs on, as the fold has it
                    self._set(conn, c, fact.contract_id, end_date=OPEN_END, end_stated=False)
            case ContractTransferred():
                self._set(
                    conn,
                    c,
                    fact.contract_id,
                    contracting_authority=fact.to_authority,
                    paying_agent=fact.paying_agent,
                )
            case ContractTerminated():
                self._set(conn, c, fact.contract_id, active=False)
            case TenderPlanned():
                upsert(
                    conn,
                    self.tenders,
                    {
                        "tender_id": fact.tender_id,
                        "title": fact.title,
                        "title_stated": fact.title_stated,
                        "contracting_authority": fact.contracting_authority,
                    },
                    ["tender_id"],
                )
            case TenderRestated():
                # Only the fields it gives replace the recorded ones (the tender fold's
                # meaning); of them this model keeps the title and whether it is stated.
                if fact.title is not None:
                    self._set(conn, self.tenders, fact.tender_id, title=fact.title,
                              title_stated=True)  # fmt: skip
                elif fact.title_stated is not None:  # no longer stated: the title stays
                    self._set(conn, self.tenders, fact.tender_id, title_stated=fact.title_stated)
            case ParticipantListFrozen():
                t = self.participants
                conn.execute(t.delete().where(t.c.tender_id == fact.tender_id))
                for p in fact.participants:
                    conn.execute(
                        t.insert().values(
                            tender_id=fact.tender_id,
                            organisation_code=p.organisation_code,
                            lot_ids=json.dumps(p.lot_ids),
                        )
                    )
            case OrganisationRegistered():
                upsert(conn, self.organisations, {"code": fact.code, "name": fact.name}, ["code"])
            case OrganisationRenamed():
                self._set(conn, self.organisations, fact.code, name=fact.name)
            case MunicipalityMerged():
                self._set(
                    conn,
                    self.organisations,
                    fact.code,
                    successor_code=fact.successor_code,
                    merged_on=fact.effective_on,
                )
            case ExpiryWarningRaised():
                key = warning_key(fact.contract_id, fact.date_kind, fact.target_date, fact.stage)
                upsert(
                    conn,
                    self.raised,
                    {
                        "key": key,
                        "contract_id": fact.contract_id,
                        "raised_on": fact.raised_on,
                        "late": fact.late,
                    },
                    ["key"],
                )
            case WebhookSubscribed():
                upsert(
                    conn,
                    self.subscriptions,
                    {
                        "subscription_id": fact.subscription_id,
                        "organisation_code": fact.organisation_code,
                        "url": fact.url,
                        "event_types": json.dumps(fact.event_types),
                        "active": True,
                    },
                    ["subscription_id"],
                )
            case WebhookUnsubscribed():
                self._set(conn, self.subscriptions, fact.subscription_id, active=False)
            case WebhookReplayRequested():
                self._set(
                    conn,
                    self.subscriptions,
                    fact.subscription_id,
                    replay_from_seq=fact.from_seq,
                    replay_request_seq=event.seq,
                )

    def _upsert_contract(self, conn: Connection, **values: Any) -> None:
        values.setdefault("participant_code", None)
        existing = conn.execute(
            select(self.contracts).where(self.contracts.c.contract_id == values["contract_id"])
        ).first()
        if existing is not None and existing.participant_code and not values["participant_code"]:
            values["participant_code"] = existing.participant_code  # registry's copy of a call-off
        values.setdefault("contracting_authority", None)
        values.setdefault("paying_agent", None)
        values.setdefault("max_extent_date", None)
        values.setdefault("max_known_since", None)
        values.setdefault("end_stated", True)
        upsert(conn, self.contracts, values, ["contract_id"])

    @staticmethod
    def _set(conn: Connection, table: Table, key: str, **values: Any) -> None:
        pk = next(iter(table.primary_key.columns))
        conn.execute(update(table).where(pk == key).values(**values))

    # --- queries used by the ticker, the publisher and the webhook dispatcher ---------------

    def recipients(self, conn: Connection, contract_id: str, on: date) -> tuple[str, ...]:
        """Who is told on day `on` of news about the contract: its parties, a municipality
        that merged away by then replaced by its successor."""
        row = conn.execute(
            select(self.contracts).where(self.contracts.c.contract_id == contract_id)
        ).first()
        if row is None:
            return ()
        codes = {row.contracting_authority, row.paying_agent, row.participant_code}
        if row.kind != "call_off" and row.tender_id:
            lots = set(json.loads(row.lot_ids))
            t = self.participants
            for p in conn.execute(select(t).where(t.c.tender_id == row.tender_id)):
                if not lots or not set(json.loads(p.lot_ids)) or lots & set(json.loads(p.lot_ids)):
                    codes.add(p.organisation_code)
        codes.discard(None)
        return tuple(sorted({self._current_code(conn, code, on) for code in codes if code}))

    def _current_code(self, conn: Connection, code: str, on: date) -> str:
        # A merged municipality's participations pass to its successor on the day the merger
        # takes effect, not on the day it is recorded: a merger decided for next January
        # leaves the municipality acting, and told, until then.
        o = self.organisations
        for _ in range(10):
            row = conn.execute(
                select(o.c.successor_code, o.c.merged_on).where(o.c.code == code)
            ).first()
            if row is None or not row.successor_code:
                return code
            if row.merged_on is not None and row.merged_on > on:
                return code
            code = row.successor_code
        return code

    def schedules(self, conn: Connection, on: date) -> list[ContractSchedule]:
        result = []
        for row in conn.execute(
            select(self.contracts).where(self.contracts.c.active.is_(True))
        ).all():
            result.append(
                ContractSchedule(
                    contract_id=row.contract_id,
                    contract_kind=row.kind,
                    # An end an imported source does not state is none to warn of (import33);
                    # a stated maximum extent still is.
                    dates=tuple(
                        d
                        for d in tracked_dates(
                            row.end_date,
                            row.end_known_since,
                            row.max_extent_date,
                            row.max_known_since,
                        )
                        if d.kind != "end" or row.end_stated
                    ),
                    recipients=self.recipients(conn, row.contract_id, on),
                )
            )
        return result

    def raised_keys(self, conn: Connection) -> frozenset[str]:
        return frozenset(conn.execute(select(self.raised.c.key)).scalars())

    def organisation_codes(self, conn: Connection) -> list[str]:
        return list(conn.execute(select(self.organisations.c.code)).scalars())


def as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
