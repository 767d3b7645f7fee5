"""A test-only read model over the ledger aggregate: totals per ledger."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, select

from eventstore.projection import Projection, upsert
from eventstore.store import StoredEvent
from tests.support.ledger import LEDGER


class LedgerTotals(Projection):
    name = "ledger_totals"
    contexts = (LEDGER,)

    def define(self, metadata: MetaData) -> None:
        self.table = Table(
            f"{self.key}_totals",
            metadata,
            Column("ledger_id", String(64), primary_key=True),
            Column("total", Integer, nullable=False),
            Column("entries", Integer, nullable=False),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        amount = event.envelope.payload["amount"]
        if not isinstance(amount, int) or amount < -1_000_000:
            raise ValueError(f"unusable amount {amount!r}")
        ledger_id = event.envelope.aggregate_id
        row = conn.execute(select(self.table).where(self.table.c.ledger_id == ledger_id)).first()
        total, entries = (row.total, row.entries) if row else (0, 0)
        upsert(
            conn,
            self.table,
            {"ledger_id": ledger_id, "total": total + amount, "entries": entries + 1},
            ["ledger_id"],
        )

    def rows(self, conn: Connection) -> list[tuple[str, int, int]]:
        result = conn.execute(select(self.table).order_by(self.table.c.ledger_id))
        return [(r.ledger_id, r.total, r.entries) for r in result]
