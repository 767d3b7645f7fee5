"""Webhook deliveries: the INTEGRATION stream POSTed to subscribed URLs, signed, retried.

Per subscription a cursor over the INTEGRATION stream turns matching messages into delivery
rows (same transaction as the cursor move). Deliveries are attempted with exponential backoff
and full jitter, parked after `webhook_max_attempts` failures, and every attempt is recorded.
A `WebhookReplayRequested` event moves the cursor back and re-queues what follows it.
One dispatcher per database is assumed (rows are not locked against a second one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from nats.aio.client import Client as NATS
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
    select,
    update,
)

from eventstore.clock import Clock
from eventstore.projection import upsert
from notifier.feed import INTEGRATION_STREAM
from notifier.projection import NotifierSchedule
from notifier.publisher import ensure_integration_stream
from notifier.settings import NotifierSettings
from notifier.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    subscription_secret,
)

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
)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def wants(sub: Any, subject: str, cloud_type: str) -> bool:
    own = subject.startswith(f"gt.org.{sub.organisation_code}.") or subject.startswith("gt.public.")
    types = json.loads(sub.event_types)
    return own and (not types or cloud_type in types)


class WebhookDispatcher:
    def __init__(
        self,
        nc: NATS,
        engine: Engine,
        projection: NotifierSchedule,
        clock: Clock,
        settings: NotifierSettings,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._nc = nc
        self._engine = engine
        self._projection = projection
        self._clock = clock
        self._settings = settings
        self._client = client
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(metadata.create_all, self._engine)
        await ensure_integration_stream(self._nc, replicas=self._settings.stream_replicas)
        self._client = self._client or httpx.AsyncClient(timeout=self._settings.webhook_timeout)
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook dispatch round failed")
            await asyncio.sleep(self._settings.webhook_poll_interval)

    async def run_once(self) -> None:
        await self._enqueue()
        await self._attempt_due()

    # --- turning INTEGRATION messages into deliveries --------------------------------------

    async def _enqueue(self) -> None:
        subs = await asyncio.to_thread(self._active_subscriptions)
        if not subs:
            return
        info = await self._nc.jetstream().stream_info(INTEGRATION_STREAM)
        head = int(info.state.last_seq)
        for sub in subs:
            cursor = await asyncio.to_thread(self._cursor, sub, head)
            messages = await self._read(cursor)
            await asyncio.to_thread(self._queue, sub, cursor, messages)

    def _active_subscriptions(self) -> list[Any]:
        t = self._projection.subscriptions
        with self._engine.connect() as conn:
            return list(conn.execute(select(t).where(t.c.active.is_(True))).all())

    def _cursor(self, sub: Any, head: int) -> int:
        with self._engine.begin() as conn:
            row = conn.execute(
                select(cursors).where(cursors.c.subscription_id == sub.subscription_id)
            ).first()
            if row is None:
                # A new subscription starts with what is published from now on.
                return self._move(conn, sub, head + 1, 0)
            replay = sub.replay_request_seq or 0
            if replay > row.replay_request_seq:
                next_seq = min(int(row.next_seq), int(sub.replay_from_seq))
                return self._move(conn, sub, next_seq, replay)
            return int(row.next_seq)

    @staticmethod
    def _move(conn: Connection, sub: Any, next_seq: int, replay: int) -> int:
        values = {
            "subscription_id": sub.subscription_id,
            "next_seq": next_seq,
            "replay_request_seq": replay,
        }
        upsert(conn, cursors, values, ["subscription_id"])
        return next_seq

    async def _read(self, from_seq: int) -> list[tuple[int, str, bytes]]:
        out: list[tuple[int, str, bytes]] = []
        js = self._nc.jetstream()
        seq = from_seq
        while True:
            try:
                msg = await js.get_msg(INTEGRATION_STREAM, seq, next=True, subject="gt.>")
            except Exception:  # nothing at or after seq
                return out
            out.append((int(msg.seq or 0), str(msg.subject), bytes(msg.data or b"")))
            seq = int(msg.seq or 0) + 1
            if len(out) >= 500:
                return out

    def _queue(self, sub: Any, cursor: int, messages: list[tuple[int, str, bytes]]) -> None:
        if not messages:
            return
        now = time.time()
        with self._engine.begin() as conn:
            for seq, subject, body in messages:
                cloud_type = json.loads(body).get("type", "")
                if not wants(sub, subject, cloud_type):
                    continue
                existing = conn.execute(
                    select(deliveries.c.seq).where(
                        deliveries.c.subscription_id == sub.subscription_id,
                        deliveries.c.seq == seq,
                    )
                ).first()
                if existing is None or seq >= (sub.replay_from_seq or seq + 1):
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
            conn.execute(
                update(cursors)
                .where(cursors.c.subscription_id == sub.subscription_id)
                .values(next_seq=messages[-1][0] + 1)
            )

    # --- attempts ----------------------------------------------------------------------------

    def _due(self) -> list[Any]:
        t = self._projection.subscriptions
        with self._engine.connect() as conn:
            return list(
                conn.execute(
                    select(deliveries, t.c.url)
                    .join(t, t.c.subscription_id == deliveries.c.subscription_id)
                    .where(
                        deliveries.c.status == "pending",
                        deliveries.c.next_attempt_at <= time.time(),
                        t.c.active.is_(True),
                    )
                    .order_by(deliveries.c.seq)
                    .limit(100)
                ).all()
            )

    async def _attempt_due(self) -> None:
        for row in await asyncio.to_thread(self._due):
            await self._attempt(row)

    async def _attempt(self, row: Any) -> None:
        assert self._client is not None
        secret = subscription_secret(self._settings.webhook_master_key, row.subscription_id)
        body = row.body.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/cloudevents+json",
            DELIVERY_HEADER: f"{row.subscription_id}:{row.seq}",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        status_code: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(row.url, content=body, headers=headers)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        await asyncio.to_thread(self._record, row, status_code, error)

    def _record(self, row: Any, status_code: int | None, error: str | None) -> None:
        attempt = row.attempts + 1
        s = self._settings
        changes: dict[str, Any]
        if error is None:
            outcome, changes = "delivered", {"status": "delivered", "last_error": None}
        elif attempt >= s.webhook_max_attempts:
            outcome, changes = "parked", {"status": "parked", "last_error": error}
        else:
            delay = backoff(attempt, s.webhook_base_delay, s.webhook_max_delay)
            outcome = "failed"
            changes = {"last_error": error, "next_attempt_at": time.time() + delay}
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
                )
            )
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.subscription_id == row.subscription_id,
                    deliveries.c.seq == row.seq,
                )
                .values(attempts=attempt, **changes)
            )
