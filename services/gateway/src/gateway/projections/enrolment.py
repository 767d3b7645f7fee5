"""Enrolment windows, participants (who may use a joint tender's contracts) and call-offs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    MetaData,
    Numeric,
    String,
    Table,
)

from contracts_schema.subjects import ENROLMENT, BoundedContext
from eventstore.projection import Projection, upsert
from eventstore.store import StoredEvent
from gateway.projections.common import day, occurred_on, payload


class EnrolmentProjection(Projection):
    name = "enrolment"
    contexts: ClassVar[tuple[BoundedContext, ...]] = (ENROLMENT,)

    def define(self, metadata: MetaData) -> None:
        p = self.key
        self.windows = Table(
            f"{p}_windows",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("lot_ids", JSON, nullable=False),
            Column("opens_on", Date, nullable=False),
            Column("closes_on", Date, nullable=False),
            Column("previous_round_tender_id", String(128)),
            Column("frozen_on", Date),
        )
        self.participants = Table(
            f"{p}_participants",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("organisation_code", String(40), primary_key=True, index=True),
            Column("lot_ids", JSON, nullable=False),
            Column("power_of_attorney_ref", String(300)),
            Column("status", String(20), nullable=False),
            Column("enrolled_on", Date, nullable=False),
            Column("withdrawn_on", Date),
            Column("frozen", Boolean, nullable=False),
        )
        self.call_offs = Table(
            f"{p}_call_offs",
            metadata,
            Column("call_off_id", String(128), primary_key=True),
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
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        p = payload(event)
        match event.envelope.event_type:
            case "EnrolmentWindowOpened":
                upsert(
                    conn,
                    self.windows,
                    {
                        "tender_id": p["tender_id"],
                        "lot_ids": list(p.get("lot_ids") or []),
                        "opens_on": day(p["opens_on"]),
                        "closes_on": day(p["closes_on"]),
                        "previous_round_tender_id": p.get("previous_round_tender_id"),
                    },
                    ["tender_id"],
                )
            case "EnrolmentWindowExtended":
                self._window(conn, p["tender_id"], closes_on=day(p["closes_on"]))
            case "ParticipantEnrolled":
                upsert(
                    conn,
                    self.participants,
                    {
                        "tender_id": p["tender_id"],
                        "organisation_code": p["organisation_code"],
                        "lot_ids": list(p.get("lot_ids") or []),
                        "power_of_attorney_ref": p.get("power_of_attorney_ref"),
                        "status": "enrolled",
                        "enrolled_on": day(p.get("enrolled_on")) or occurred_on(event),
                        "withdrawn_on": None,
                        "frozen": False,
                    },
                    ["tender_id", "organisation_code"],
                )
            case "ParticipantWithdrawn":
                t = self.participants
                where = (t.c.tender_id == p["tender_id"]) & (
                    t.c.organisation_code == p["organisation_code"]
                )
                values = {
                    "status": "withdrawn",
                    "withdrawn_on": day(p.get("withdrawn_on")) or occurred_on(event),
                }
                if conn.execute(t.update().where(where).values(**values)).rowcount != 1:
                    raise LookupError(
                        f"{p['organisation_code']} never enrolled for tender {p['tender_id']}"
                    )
            case "ParticipantListFrozen":
                self._window(conn, p["tender_id"], frozen_on=day(p["frozen_on"]))
                t = self.participants
                conn.execute(t.update().where(t.c.tender_id == p["tender_id"]).values(frozen=True))
            case "CallOffAwarded":
                self._call_off(conn, p)

    def _window(self, conn: Connection, tender_id: str, **values: Any) -> None:
        t = self.windows
        if (
            conn.execute(t.update().where(t.c.tender_id == tender_id).values(**values)).rowcount
            != 1
        ):
            raise LookupError(f"no enrolment window was opened for tender {tender_id}")

    def _call_off(self, conn: Connection, p: dict[str, Any]) -> None:
        value = p.get("value_eur")
        upsert(
            conn,
            self.call_offs,
            {
                "call_off_id": p["call_off_id"],
                "framework_contract_id": p["framework_contract_id"],
                "tender_id": p["tender_id"],
                "lot_id": p["lot_id"],
                "participant_code": p["participant_code"],
                "supplier_id": p["supplier_id"],
                "awarded_on": day(p["awarded_on"]),
                "procedure": p["procedure"],
                "start_date": day(p["start_date"]),
                "end_date": day(p["end_date"]),
                "value_eur": Decimal(str(value)) if value is not None else None,
            },
            ["call_off_id"],
        )
