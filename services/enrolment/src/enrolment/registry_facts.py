"""What the enrolment service knows of the registry: tenders, lots and signed contracts.

A projection of the REGISTRY stream into the enrolment service's own SQL tables (fed by the
ProjectionRunner, checkpoint in the same transaction). Payloads are read by the field names
of the cross-context contract, so the registry can add fields freely.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    MetaData,
    String,
    Table,
    delete,
    select,
    update,
)

from contracts_schema.subjects import REGISTRY
from enrolment.domain.call_off import Framework
from enrolment.domain.enrolment_window import TenderFacts
from eventstore.projection import Projection, upsert
from eventstore.store import StoredEvent


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


class RegistryFacts(Projection):
    name = "enrolment_registry_facts"
    contexts = (REGISTRY,)

    def define(self, metadata: MetaData) -> None:
        k = self.key
        self.tenders = Table(
            f"{k}_tenders",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("title", String(500), nullable=False),
            Column("contracting_authority", String(64)),
            Column("framework", Boolean, nullable=False),
            Column("published_on", Date),
            Column("notice_reference", String(200)),
        )
        self.tender_lots = Table(
            f"{k}_tender_lots",
            metadata,
            Column("tender_id", String(128), primary_key=True),
            Column("lot_id", String(128), primary_key=True),
            Column("title", String(500)),
        )
        self.contracts = Table(
            f"{k}_contracts",
            metadata,
            Column("contract_id", String(128), primary_key=True),
            Column("kind", String(32), nullable=False),
            Column("tender_id", String(128)),
            Column("contracting_authority", String(64)),
            Column("start_date", Date, nullable=False),
            Column("end_date", Date, nullable=False),
            Column("max_extent_date", Date),
            Column("terminated_on", Date),
            Column("expired_on", Date),
        )
        self.contract_suppliers = Table(
            f"{k}_contract_suppliers",
            metadata,
            Column("contract_id", String(128), primary_key=True),
            Column("lot_id", String(128), primary_key=True),
            Column("supplier_id", String(128), primary_key=True),
            Column("name", String(500)),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        handler = getattr(self, f"_on_{event.envelope.event_type}", None)
        if handler is not None:
            handler(conn, event.envelope.payload)

    def _on_TenderPlanned(self, conn: Connection, p: dict[str, Any]) -> None:  # noqa: N802
        tender_id = p["tender_id"]
        row = {
            "tender_id": tender_id,
            "title": p["title"],
            "contracting_authority": p.get("contracting_authority"),
            "framework": bool(p.get("framework", False)),
        }
        upsert(conn, self.tenders, row, ["tender_id"])
        conn.execute(delete(self.tender_lots).where(self.tender_lots.c.tender_id == tender_id))
        for lot in p.get("lots") or []:
            upsert(
                conn,
                self.tender_lots,
                {"tender_id": tender_id, "lot_id": lot["lot_id"], "title": lot.get("title")},
                ["tender_id", "lot_id"],
            )

    def _on_TenderPublished(self, conn: Connection, p: dict[str, Any]) -> None:  # noqa: N802
        conn.execute(
            update(self.tenders)
            .where(self.tenders.c.tender_id == p["tender_id"])
            .values(
                published_on=_date(p["published_on"]), notice_reference=p.get("notice_reference")
            )
        )

    def _on_ContractSigned(self, conn: Connection, p: dict[str, Any]) -> None:  # noqa: N802
        contract_id = p["contract_id"]
        row = {
            "contract_id": contract_id,
            "kind": p["kind"],
            "tender_id": p.get("tender_id"),
            "contracting_authority": p.get("contracting_authority"),
            "start_date": _date(p["start_date"]),
            "end_date": _date(p["end_date"]),
            "max_extent_date": _date(p.get("max_extent_date")),
        }
        upsert(conn, self.contracts, row, ["contract_id"])
        table = self.contract_suppliers
        conn.execute(delete(table).where(table.c.contract_id == contract_id))
        for supplier in p.get("suppliers") or []:
            for lot_id in supplier.get("lot_ids") or p.get("lot_ids") or []:
                upsert(
                    conn,
                    table,
                    {
                        "contract_id": contract_id,
                        "lot_id": lot_id,
                        "supplier_id": supplier["supplier_id"],
                        "name": supplier.get("name"),
                    },
                    ["contract_id", "lot_id", "supplier_id"],
                )

    def _set(self, conn: Connection, contract_id: str, **values: Any) -> None:
        conn.execute(
            update(self.contracts).where(self.contracts.c.contract_id == contract_id).values(values)
        )

    def _on_ContractExtended(self, conn: Connection, p: dict[str, Any]) -> None:  # noqa: N802
        self._set(conn, p["contract_id"], end_date=_date(p["new_end_date"]))

    def _on_ContractAmended(self, conn: Connection, p: dict[str, Any]) -> None:  # noqa: N802
        changes = {
            column: _date(p[field])
            for field, column in (
                ("start_date", "start_date"),
                ("end_date", "end_date"),
                ("new_end_date", "end_date"),
                ("max_extent_date", "max_extent_date"),
                ("new_max_extent_date", "max_extent_date"),
            )
            if p.get(field) is not None
        }
        if changes:
            self._set(conn, p["contract_id"], **changes)

    def _on_ContractTransferred(self, conn: Connection, p: dict[str, Any]) -> None:  # noqa: N802
        self._set(conn, p["contract_id"], contracting_authority=p["to_authority"])

    def _on_ContractTerminated(self, conn: Connection, p: dict[str, Any]) -> None:  # noqa: N802
        self._set(conn, p["contract_id"], terminated_on=_date(p["terminated_on"]))

    def _on_ContractExpired(self, conn: Connection, p: dict[str, Any]) -> None:  # noqa: N802
        self._set(conn, p["contract_id"], expired_on=_date(p["expired_on"]))

    # Reads (for the command side's facts loaders).

    def tender(self, conn: Connection, tender_id: str) -> TenderFacts | None:
        row = conn.execute(
            select(self.tenders).where(self.tenders.c.tender_id == tender_id)
        ).first()
        if row is None:
            return None
        lots = conn.execute(
            select(self.tender_lots.c.lot_id).where(self.tender_lots.c.tender_id == tender_id)
        ).scalars()
        return TenderFacts(tender_id, frozenset(lots), row.published_on)

    def framework(self, conn: Connection, contract_id: str) -> Framework | None:
        c = self.contracts
        row = conn.execute(select(c).where(c.c.contract_id == contract_id)).first()
        if row is None:
            return None
        s = self.contract_suppliers
        suppliers: dict[str, set[str]] = {}
        for lot_id, supplier_id in conn.execute(
            select(s.c.lot_id, s.c.supplier_id).where(s.c.contract_id == contract_id)
        ):
            suppliers.setdefault(lot_id, set()).add(supplier_id)
        return Framework(
            contract_id=contract_id,
            kind=row.kind,
            tender_id=row.tender_id,
            suppliers_by_lot={lot: frozenset(ids) for lot, ids in suppliers.items()},
            start_date=row.start_date,
            end_date=row.end_date,
            terminated_on=row.terminated_on,
        )
