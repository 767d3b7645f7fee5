"""Programmes, tenders and their lots, with each tender's phase and each lot's award."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    select,
)

from contracts_schema.subjects import REGISTRY, BoundedContext
from eventstore.projection import Projection, upsert
from eventstore.store import StoredEvent
from gateway.projections.common import day, occurred_on, payload

# Registry events beyond the fixed contract move the phase by their name.
PHASE_BY_EVENT = {
    "TenderPaused": "paused",
    "TenderResumed": "planned",
}


class TendersProjection(Projection):
    name = "tenders"
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY,)

    def define(self, metadata: MetaData) -> None:
        p = self.key
        self.programmes = Table(
            f"{p}_programmes",
            metadata,
            Column("programme_id", String(128), primary_key=True),
            Column("name", String(300), nullable=False),
            Column("description", String(2000)),
            Column("coordinator", String(40)),
            Column("predecessor_id", String(128)),
            Column("successor_id", String(128)),
            Column("started_on", Date, nullable=False),
        )
        self.tenders = Table(
            f"{p}_tenders",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("programme_id", String(128), index=True),
            Column("title", String(500), nullable=False),
            Column("contracting_authority", String(40), nullable=False, index=True),
            Column("procedure", String(80), nullable=False),
            Column("framework", Boolean, nullable=False),
            Column("phase", String(40), nullable=False, index=True),
            Column("planned_on", Date, nullable=False),
            Column("published_on", Date),
            Column("notice_reference", String(200)),
            Column("successor_id", String(128)),
        )
        self.lots = Table(
            f"{p}_lots",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("lot_id", String(128), primary_key=True),
            Column("position", Integer, nullable=False),
            Column("title", String(500), nullable=False),
            Column("status", String(40), nullable=False),
            Column("supplier_ids", JSON, nullable=False),
            Column("decision_sent_on", Date),
            Column("standstill_ends_on", Date),
            Column("awarded_on", Date),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        e = event.envelope
        p = payload(event)
        if e.aggregate_type == "programme":
            self._programme(conn, event, p)
            return
        match e.event_type:
            case "TenderPlanned":
                self._planned(conn, event, p)
            case "TenderPublished":
                self._set(
                    conn,
                    p["tender_id"],
                    phase="published",
                    published_on=day(p["published_on"]),
                    notice_reference=p.get("notice_reference"),
                )
            case "ProvisionalAwardDecided" | "ProvisionalAwardRevised":
                self._lot(
                    conn,
                    p,
                    status="provisionally_awarded",
                    supplier_ids=list(p["supplier_ids"]),
                    decision_sent_on=day(p["decision_sent_on"]),
                    standstill_ends_on=day(p["standstill_ends_on"]),
                )
                self._set(conn, p["tender_id"], phase="provisionally_awarded")
            case "AwardMadeDefinitive":
                self._lot(
                    conn,
                    p,
                    status="awarded",
                    supplier_ids=list(p["supplier_ids"]),
                    awarded_on=day(p["awarded_on"]),
                )
                self._after_award(conn, p["tender_id"])
            case "ProvisionalAwardWithdrawn":
                self._lot(conn, p, status="open", supplier_ids=[], standstill_ends_on=None)
            case "StandstillEnded":
                self._lot(conn, p, status="standstill_ended")
            case "LotCancelled":
                self._lot(conn, p, status="cancelled")
            case "TenderCancelled":
                for lot_id in p.get("lot_ids") or []:
                    self._lot(conn, {**p, "lot_id": lot_id}, status="cancelled")
                self._set(conn, p["tender_id"], phase="cancelled")
            case "SuccessorTenderLinked":
                self._set(conn, p["tender_id"], successor_id=p["successor_tender_id"])
            case other if other in PHASE_BY_EVENT and "tender_id" in p:
                self._set(conn, p["tender_id"], phase=PHASE_BY_EVENT[other])

    def _programme(self, conn: Connection, event: StoredEvent, p: dict[str, Any]) -> None:
        t = self.programmes
        pid = event.envelope.aggregate_id
        if event.envelope.event_type == "ProgrammePlanned":
            upsert(
                conn,
                t,
                {
                    "programme_id": pid,
                    "name": p["name"],
                    "coordinator": p.get("coordinator"),
                    "description": p.get("description"),
                    "predecessor_id": p.get("predecessor_programme_id"),
                    "started_on": day(p.get("planned_on")) or occurred_on(event),
                },
                ["programme_id"],
            )
        elif event.envelope.event_type == "SuccessorProgrammeLinked":
            done = conn.execute(
                t.update()
                .where(t.c.programme_id == pid)
                .values(successor_id=p["successor_programme_id"])
            )
            if done.rowcount != 1:
                raise LookupError(f"programme {pid} was never planned")

    def _planned(self, conn: Connection, event: StoredEvent, p: dict[str, Any]) -> None:
        upsert(
            conn,
            self.tenders,
            {
                "tender_id": p["tender_id"],
                "programme_id": p.get("programme_id"),
                "title": p["title"],
                "contracting_authority": p["contracting_authority"],
                "procedure": p["procedure"],
                "framework": bool(p.get("framework", False)),
                "phase": "planned",
                "planned_on": day(p.get("planned_on")) or occurred_on(event),
            },
            ["tender_id"],
        )
        for position, lot in enumerate(p.get("lots") or []):
            upsert(
                conn,
                self.lots,
                {
                    "tender_id": p["tender_id"],
                    "lot_id": lot["lot_id"],
                    "position": position,
                    "title": lot["title"],
                    "status": "open",
                    "supplier_ids": [],
                },
                ["tender_id", "lot_id"],
            )

    def _set(self, conn: Connection, tender_id: str, **values: Any) -> None:
        t = self.tenders
        if (
            conn.execute(t.update().where(t.c.tender_id == tender_id).values(**values)).rowcount
            != 1
        ):
            raise LookupError(f"tender {tender_id} was never planned")

    def _lot(self, conn: Connection, p: dict[str, Any], **values: Any) -> None:
        t = self.lots
        where = (t.c.tender_id == p["tender_id"]) & (t.c.lot_id == p["lot_id"])
        if conn.execute(t.update().where(where).values(**values)).rowcount != 1:
            raise LookupError(f"tender {p['tender_id']} has no lot {p['lot_id']}")

    def _after_award(self, conn: Connection, tender_id: str) -> None:
        statuses = conn.execute(
            select(self.lots.c.status).where(self.lots.c.tender_id == tender_id)
        ).scalars()
        done = all(s in ("awarded", "cancelled") for s in statuses)
        self._set(conn, tender_id, phase="awarded" if done else "provisionally_awarded")
