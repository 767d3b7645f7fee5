"""A read model of the test ledger that makes double application visible.

Each event adds a row keyed by its event id (applying one twice breaks the key and would be
parked) and adds its amount to the ledger's balance (applying one twice would also change the
total). `snapshot` reads everything a clean rebuild must reproduce exactly.
"""

from __future__ import annotations

import time
from typing import ClassVar

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, select

from contracts_schema.subjects import BoundedContext
from eventstore.projection import Projection, parked
from eventstore.store import StoredEvent
from tests.support.ledger import LEDGER


class LedgerTotals(Projection):
    name: ClassVar[str] = "ledger_totals"
    contexts: ClassVar[tuple[BoundedContext, ...]] = (LEDGER,)

    def __init__(self, delay: float = 0.0, on_apply: object = None) -> None:
        self.delay = delay  # seconds per event: lets a test kill the runner mid-batch
        self.on_apply = on_apply

    def define(self, metadata: MetaData) -> None:
        self.entries = Table(
            "ledger_totals_entries",
            metadata,
            Column("event_id", String(64), primary_key=True),
            Column("seq", Integer, nullable=False, unique=True),
            Column("ledger_id", String(64), nullable=False),
            Column("amount", Integer, nullable=False),
        )
        self.balances = Table(
            "ledger_totals_balances",
            metadata,
            Column("ledger_id", String(64), primary_key=True),
            Column("total", Integer, nullable=False),
            Column("entries", Integer, nullable=False),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        if callable(self.on_apply):
            self.on_apply(event)
        if self.delay:
            time.sleep(self.delay)
        amount = event.envelope.payload.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValueError(f"ledger amount must be an integer, got {amount!r}")
        ledger_id = event.envelope.aggregate_id
        conn.execute(
            self.entries.insert().values(
                event_id=event.envelope.event_id, seq=event.seq, ledger_id=ledger_id, amount=amount
            )
        )
        current = conn.execute(
            select(self.balances.c.total, self.balances.c.entries).where(
                self.balances.c.ledger_id == ledger_id
            )
        ).first()
        if current is None:
            conn.execute(
                self.balances.insert().values(ledger_id=ledger_id, total=amount, entries=1)
            )
        else:
            conn.execute(
                self.balances.update()
                .where(self.balances.c.ledger_id == ledger_id)
                .values(total=current.total + amount, entries=current.entries + 1)
            )


def snapshot(engine: Engine) -> dict[str, object]:
    """Everything a rebuild must reproduce, in a comparable form."""
    metadata = MetaData()
    projection = LedgerTotals()
    projection.define(metadata)
    with engine.connect() as conn:
        entries = conn.execute(select(projection.entries).order_by(projection.entries.c.seq)).all()
        balances = conn.execute(
            select(projection.balances).order_by(projection.balances.c.ledger_id)
        ).all()
        parked_rows = conn.execute(select(parked.c.seq, parked.c.error)).all()
    return {
        "entries": [tuple(r) for r in entries],
        "balances": [tuple(r) for r in balances],
        "parked": [tuple(r) for r in parked_rows],
    }


def describe_difference(live: dict[str, object], rebuilt: dict[str, object]) -> str:
    """Which stream sequences one read model has and the other lacks (for a failure message)."""
    live_seqs = {row[1] for row in live["entries"]}  # type: ignore[attr-defined]
    rebuilt_seqs = {row[1] for row in rebuilt["entries"]}  # type: ignore[attr-defined]
    return (
        f"the live read model differs from the rebuilt one: live lacks sequences"
        f" {sorted(rebuilt_seqs - live_seqs)}, has extra {sorted(live_seqs - rebuilt_seqs)};"
        f" parked live {live['parked']}, rebuilt {rebuilt['parked']}"
    )
