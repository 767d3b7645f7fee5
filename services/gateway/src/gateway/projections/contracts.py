"""Contracts of every kind (framework, call-off, plain, negotiated terms) and their suppliers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Date,
    MetaData,
    Numeric,
    String,
    Table,
)

from contracts_schema.subjects import REGISTRY, BoundedContext
from eventstore.projection import Projection, upsert
from eventstore.store import StoredEvent
from gateway.projections.common import day, payload


class ContractsProjection(Projection):
    name = "contracts"
    contexts: ClassVar[tuple[BoundedContext, ...]] = (REGISTRY,)

    def define(self, metadata: MetaData) -> None:
        p = self.key
        self.contracts = Table(
            f"{p}_contracts",
            metadata,
            Column("contract_id", String(128), primary_key=True),
            Column("kind", String(40), nullable=False, index=True),
            Column("title", String(500)),
            Column("framework_contract_id", String(128), index=True),
            Column("tender_id", String(128), index=True),
            Column("lot_ids", JSON, nullable=False),
            Column("contracting_authority", String(40), nullable=False, index=True),
            Column("paying_agent", String(40)),
            Column("signed_on", Date, nullable=False),
            Column("start_date", Date, nullable=False),
            Column("end_date", Date, nullable=False, index=True),
            Column("max_extent_date", Date),
            Column("value_eur", Numeric(18, 2)),
            Column("status", String(20), nullable=False, index=True),
            Column("ended_on", Date),
            Column("end_reason", String(1000)),
            Column("last_amendment", String(2000)),
        )
        self.suppliers = Table(
            f"{p}_contract_suppliers",
            metadata,
            Column("contract_id", String(128), primary_key=True),
            Column("supplier_id", String(40), primary_key=True, index=True),
            Column("name", String(300), nullable=False),
            Column("lot_ids", JSON, nullable=False),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        p = payload(event)
        match event.envelope.event_type:
            case "ContractSigned":
                self._signed(conn, p)
            case "ContractExtended":
                self._set(conn, p, end_date=day(p["new_end_date"]))
            case "ContractAmended":
                changes: dict[str, Any] = {"last_amendment": p.get("summary")}
                if p.get("new_end_date"):
                    changes["end_date"] = day(p["new_end_date"])
                if p.get("new_max_extent_date"):
                    changes["max_extent_date"] = day(p["new_max_extent_date"])
                if p.get("new_value_eur") is not None:
                    changes["value_eur"] = Decimal(str(p["new_value_eur"]))
                self._set(conn, p, **changes)
            case "ContractTransferred":
                self._set(
                    conn,
                    p,
                    contracting_authority=p["to_authority"],
                    paying_agent=p.get("paying_agent"),
                )
            case "ContractTerminated":
                self._set(
                    conn,
                    p,
                    status="terminated",
                    ended_on=day(p["terminated_on"]),
                    end_reason=p.get("reason"),
                )
            case "ContractExpired":
                self._set(conn, p, status="expired", ended_on=day(p["expired_on"]))

    def _signed(self, conn: Connection, p: dict[str, Any]) -> None:
        value = p.get("value_eur")
        upsert(
            conn,
            self.contracts,
            {
                "contract_id": p["contract_id"],
                "kind": p["kind"],
                "title": p.get("title"),
                "framework_contract_id": p.get("framework_contract_id"),
                "tender_id": p.get("tender_id"),
                "lot_ids": list(p.get("lot_ids") or []),
                "contracting_authority": p["contracting_authority"],
                "paying_agent": p.get("paying_agent"),
                "signed_on": day(p["signed_on"]),
                "start_date": day(p["start_date"]),
                "end_date": day(p["end_date"]),
                "max_extent_date": day(p.get("max_extent_date")),
                "value_eur": Decimal(str(value)) if value is not None else None,
                "status": "active",
            },
            ["contract_id"],
        )
        for supplier in p.get("suppliers") or []:
            upsert(
                conn,
                self.suppliers,
                {
                    "contract_id": p["contract_id"],
                    "supplier_id": supplier["supplier_id"],
                    "name": supplier["name"],
                    "lot_ids": list(supplier.get("lot_ids") or []),
                },
                ["contract_id", "supplier_id"],
            )

    def _set(self, conn: Connection, p: dict[str, Any], **values: Any) -> None:
        t = self.contracts
        where = t.c.contract_id == p["contract_id"]
        if conn.execute(t.update().where(where).values(**values)).rowcount != 1:
            raise LookupError(f"contract {p['contract_id']} was never signed")
