"""A representative read model for the benchmarks while the gateway's are not on main.

Contracts (with their current end date), call-offs and enrolments: the tables the three
GraphQL benchmark queries need. Written like a real projection (one row upsert per event),
so its rebuild rate is a fair stand-in.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    update,
)

from bench.workload import BENCH
from contracts_schema.subjects import ENROLMENT, REGISTRY, BoundedContext
from eventstore.projection import Projection, upsert
from eventstore.store import StoredEvent

PREFIX = "bench_rm"


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class BenchReadModel(Projection):  # type: ignore[misc]
    name: ClassVar[str] = PREFIX
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY, ENROLMENT)

    def define(self, metadata: MetaData) -> None:
        self.contracts = Table(
            f"{PREFIX}_contracts",
            metadata,
            Column("contract_id", String(128), primary_key=True),
            Column("kind", String(32), nullable=False),
            Column("tender_id", String(128), index=True),
            Column("authority", String(32), nullable=False),
            Column("start_date", Date, nullable=False),
            Column("end_date", Date, nullable=False, index=True),
            Column("max_extent_date", Date),
            Column("status", String(16), nullable=False),
            Column("value_eur", Integer),
            Column("suppliers", JSON, nullable=False),
        )
        self.call_offs = Table(
            f"{PREFIX}_call_offs",
            metadata,
            Column("call_off_id", String(128), primary_key=True),
            Column("framework_contract_id", String(128), nullable=False, index=True),
            Column("participant_code", String(32), nullable=False),
            Column("supplier_id", String(32), nullable=False),
            Column("procedure", String(32), nullable=False),
            Column("start_date", Date, nullable=False),
            Column("end_date", Date, nullable=False),
        )
        self.tender_events = Table(
            f"{PREFIX}_tender_events",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("stream", String(32), primary_key=True),
            Column("seq", Integer, primary_key=True),
            Column("event_type", String(64), nullable=False),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("recorded_at", DateTime(timezone=True), nullable=False),
            Column("payload", JSON, nullable=False),
        )
        self.participants = Table(
            f"{PREFIX}_participants",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("organisation_code", String(32), primary_key=True),
            Column("lot_ids", JSON, nullable=False),
            Column("status", String(16), nullable=False),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        envelope = event.envelope
        kind, p = envelope.event_type, envelope.payload
        if envelope.aggregate_type in ("tender", "enrolment_window"):
            # Every fact about a tender, with both clocks, for "the tender as of date D".
            conn.execute(
                self.tender_events.insert().values(
                    tender_id=envelope.aggregate_id,
                    stream=event.stream,
                    seq=event.seq,
                    event_type=kind,
                    occurred_at=envelope.occurred_at,
                    recorded_at=envelope.recorded_at,
                    payload=p,
                )
            )
        c = self.contracts.c
        if kind == "ContractSigned":
            values = {
                "contract_id": p["contract_id"],
                "kind": p["kind"],
                "tender_id": p.get("tender_id"),
                "authority": p["contracting_authority"],
                "start_date": _day(p["start_date"]),
                "end_date": _day(p["end_date"]),
                "max_extent_date": _day(p.get("max_extent_date")),
                "status": "active",
                "value_eur": p.get("value_eur"),
                "suppliers": p["suppliers"],
            }
            upsert(conn, self.contracts, values, ["contract_id"])
        elif kind == "ContractExtended" or (kind == "ContractAmended" and p.get("new_end_date")):
            conn.execute(
                update(self.contracts)
                .where(c.contract_id == p["contract_id"])
                .values(end_date=_day(p["new_end_date"]))
            )
        elif kind == "ContractTransferred":
            conn.execute(
                update(self.contracts)
                .where(c.contract_id == p["contract_id"])
                .values(authority=p["to_authority"])
            )
        elif kind in ("ContractTerminated", "ContractExpired"):
            status = "terminated" if kind == "ContractTerminated" else "expired"
            conn.execute(
                update(self.contracts)
                .where(c.contract_id == p["contract_id"])
                .values(status=status)
            )
        elif kind == "CallOffAwarded":
            values = {
                "call_off_id": p["call_off_id"],
                "framework_contract_id": p["framework_contract_id"],
                "participant_code": p["participant_code"],
                "supplier_id": p["supplier_id"],
                "procedure": p["procedure"],
                "start_date": _day(p["start_date"]),
                "end_date": _day(p["end_date"]),
            }
            upsert(conn, self.call_offs, values, ["call_off_id"])
        elif kind == "ParticipantEnrolled":
            values = {
                "tender_id": p["tender_id"],
                "organisation_code": p["organisation_code"],
                "lot_ids": p["lot_ids"],
                "status": "enrolled",
            }
            upsert(conn, self.participants, values, ["tender_id", "organisation_code"])
        elif kind == "ParticipantWithdrawn":
            t = self.participants.c
            conn.execute(
                update(self.participants)
                .where(t.tender_id == p["tender_id"], t.organisation_code == p["organisation_code"])
                .values(status="withdrawn")
            )


class AmendmentCounts(Projection):  # type: ignore[misc]
    """The freshness probe: how many amendments each benchmark contract has."""

    name: ClassVar[str] = "bench_amendments"
    contexts: ClassVar[tuple[BoundedContext, ...]] = (BENCH,)

    def define(self, metadata: MetaData) -> None:
        self.table = Table(
            "bench_amendments",
            metadata,
            Column("contract_id", String(128), primary_key=True),
            Column("amendments", Integer, nullable=False),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        contract_id = event.envelope.payload["contract_id"]
        row = conn.execute(
            self.table.select().where(self.table.c.contract_id == contract_id)
        ).first()
        count = (row.amendments if row else 0) + 1
        upsert(conn, self.table, {"contract_id": contract_id, "amendments": count}, ["contract_id"])
