"""The webhook dispatcher's SQL state: cursors, deliveries, attempts; safe for several dispatchers.

Several notifier instances may share one database (PostgreSQL). Every change that two of them
could make at once is a compare-and-set, so exactly one wins:
- a cursor moves only from the position the mover read (`UPDATE ... WHERE next_seq = read`), so
  a range of INTEGRATION messages becomes delivery rows once;
- a delivery is claimed with a lease (`UPDATE ... WHERE status = 'pending' AND attempts = read
  AND (claimed_until IS NULL OR claimed_until < now)`), so only one dispatcher attempts it; a
  dispatcher that dies mid-attempt loses its lease and another one retries later;
- an attempt is recorded against the claim it holds (`WHERE claimed_by = me`).
On PostgreSQL the losing UPDATE waits for the winner's commit and then matches no row; on SQLite
writers are serialized by `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from eventstore.projection import upsert

log = logging.getLogger(__name__)
metadata = MetaData()

cursors = Table(
    "notifier_webhook_cursors",
    metadata,
    Column("subscription_id", String(128), primary_key=True),
    Column("next_seq", Integer, nullable=False),
    Column("replay_request_seq", Integer, nullable=False),
)
deliveries = Table(
    "notifier_webhook_deliveries",
    metadata,
    Column("subscription_id", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True),  # INTEGRATION stream sequence
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | parked
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),  # epoch seconds
    Column("last_error", Text),
    Column("claimed_by", String(120)),  # the dispatcher attempting it now ...
    Column("claimed_until", Float),  # ... until this epoch second (its lease)
)
attempts = Table(
    "notifier_webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", String(128), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer),
    Column("outcome", String(16), nullable=False),  # delivered | failed | parked
    Column("error", Text),
    Column("dispatcher", String(120)),
)


@dataclass(frozen=True)
class Cursor:
    next_seq: int
    replay_request_seq: int


def wants(sub: Any, subject: str, cloud_type: str) -> bool:
    own = subject.startswith(f"gt.org.{sub.organisation_code}.") or subject.startswith("gt.public.")
    types = json.loads(sub.event_types)
    return own and (not types or cloud_type in types)


class DeliveryStore:
    def __init__(self, engine: Engine, subscriptions: Table) -> None:
        self._engine = engine
        self._subscriptions = subscriptions

    def create(self) -> None:
        metadata.create_all(self._engine)

    def active_subscriptions(self) -> list[Any]:
        t = self._subscriptions
        with self._engine.connect() as conn:
            return list(conn.execute(select(t).where(t.c.active.is_(True))).all())

    # --- cursors: INTEGRATION messages become delivery rows once ------------------------

    def cursor(self, sub: Any, head: int) -> Cursor:
        """Where this subscription's next messages start (a new one starts after `head`)."""
        with self._engine.begin() as conn:
            row = self._read_cursor(conn, sub.subscription_id)
            if row is None:
                dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
                conn.execute(
                    dialect.insert(cursors)
                    .values(
                        subscription_id=sub.subscription_id, next_seq=head + 1, replay_request_seq=0
                    )
                    .on_conflict_do_nothing(index_elements=["subscription_id"])
                )
                row = self._read_cursor(conn, sub.subscription_id)
                assert row is not None
            replay = int(sub.replay_request_seq or 0)
            if replay > row.replay_request_seq:
                back = min(row.next_seq, int(sub.replay_from_seq))
                moved = conn.execute(
                    update(cursors)
                    .where(
                        cursors.c.subscription_id == sub.subscription_id,
                        cursors.c.replay_request_seq == row.replay_request_seq,
                    )
                    .values(next_seq=back, replay_request_seq=replay)
                )
                if moved.rowcount == 1:
                    return Cursor(back, replay)
                row = self._read_cursor(conn, sub.subscription_id)  # another one moved it
                assert row is not None
            return row

    @staticmethod
    def _read_cursor(conn: Connection, subscription_id: str) -> Cursor | None:
        row = conn.execute(
            select(cursors.c.next_seq, cursors.c.replay_request_seq).where(
                cursors.c.subscription_id == subscription_id
            )
        ).first()
        return Cursor(int(row.next_seq), int(row.replay_request_seq)) if row else None

    def queue(self, sub: Any, cursor: Cursor, messages: Sequence[tuple[int, str, bytes]]) -> bool:
        """Turn messages read from `cursor` into deliveries; False if another dispatcher did."""
        if not messages:
            return False
        now = time.time()
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(cursors)
                .where(
                    cursors.c.subscription_id == sub.subscription_id,
                    cursors.c.next_seq == cursor.next_seq,
                    cursors.c.replay_request_seq == cursor.replay_request_seq,
                )
                .values(next_seq=messages[-1][0] + 1)
            )
            if moved.rowcount != 1:
                return False
            replay_from = sub.replay_from_seq if cursor.replay_request_seq else None
            for seq, subject, body in messages:
                if not wants(sub, subject, json.loads(body).get("type", "")):
                    continue
                existing = conn.execute(
                    select(deliveries.c.seq).where(
                        deliveries.c.subscription_id == sub.subscription_id,
                        deliveries.c.seq == seq,
                    )
                ).first()
                if existing is None or (replay_from is not None and seq >= replay_from):
                    values = {
                        "subscription_id": sub.subscription_id,
                        "seq": seq,
                        "subject": subject,
                        "body": body.decode(),
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "last_error": None,
                    }
                    upsert(conn, deliveries, values, ["subscription_id", "seq"])
        return True

    # --- claims and attempts ---------------------------------------------------------------

    def claim(self, owner: str, limit: int, lease: float) -> list[Any]:
        """Due deliveries this dispatcher alone may attempt now (with their URL)."""
        now = time.time()
        t = self._subscriptions
        free = or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now)
        with self._engine.begin() as conn:
            candidates = conn.execute(
                select(deliveries, t.c.url)
                .join(t, t.c.subscription_id == deliveries.c.subscription_id)
                .where(
                    deliveries.c.status == "pending",
                    deliveries.c.next_attempt_at <= now,
                    free,
                    t.c.active.is_(True),
                )
                .order_by(deliveries.c.seq, deliveries.c.subscription_id)
                .limit(limit)
            ).all()
            claimed = []
            for row in candidates:
                won = conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.subscription_id == row.subscription_id,
                        deliveries.c.seq == row.seq,
                        deliveries.c.status == "pending",
                        deliveries.c.attempts == row.attempts,
                        deliveries.c.next_attempt_at <= now,
                        free,
                    )
                    .values(claimed_by=owner, claimed_until=now + lease)
                )
                if won.rowcount == 1:
                    claimed.append(row)
        return claimed

    def record(
        self,
        owner: str,
        row: Any,
        outcome: str,
        changes: dict[str, Any],
        status_code: int | None,
        error: str | None,
    ) -> None:
        """Record one attempt and release the claim (only if this dispatcher still holds it)."""
        attempt = row.attempts + 1
        with self._engine.begin() as conn:
            conn.execute(
                attempts.insert().values(
                    subscription_id=row.subscription_id,
                    seq=row.seq,
                    attempt=attempt,
                    attempted_at=datetime.now(UTC),
                    status_code=status_code,
                    outcome=outcome,
                    error=error,
                    dispatcher=owner,
                )
            )
            released = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.subscription_id == row.subscription_id,
                    deliveries.c.seq == row.seq,
                    deliveries.c.claimed_by == owner,
                )
                .values(attempts=attempt, claimed_by=None, claimed_until=None, **changes)
            )
        if released.rowcount != 1:
            log.warning(
                "webhook delivery %s:%s: lease expired before the attempt was recorded",
                row.subscription_id,
                row.seq,
            )
