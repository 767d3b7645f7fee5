"""correct23: a webhook delivery keeps being attempted, counted and finally parked past its
1,024th failure (GT_WEBHOOK_MAX_ATTEMPTS allows more).

Before: the backoff after a failure was `base * 2 ** (attempt - 1)`: from the 1,025th attempt
on, an int too large for a float times the float base raised OverflowError after the request,
before its outcome was recorded. The attempt was lost, the claim lapsed, and the delivery was
claimed, attempted and lost again every lease, for ever: never counted, never parked.

A real notifier on real NATS and SQLite; the endpoint refuses every connection. The delivery
row is given the count 1,024 earlier failures would have left (making them one by one would
take the test minutes).
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select, update

from contracts_schema.notifier.commands import SubscribeWebhook
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import NOTIFIER
from eventstore.clock import FixedClock
from eventstore.serving import send_command
from eventstore.testing.nats_server import free_port
from notifier.feed import INTEGRATION_STREAM
from notifier.service import Notifier
from notifier.webhooks import attempts, deliveries
from tests.integration.notifier.facts import notifier

KEY = "test-master-key-0123456789"
MAX_ATTEMPTS = 1026
BOUND = 120.0  # seconds: bounds a hang, not a speed


async def until(predicate: object) -> None:
    deadline = time.monotonic() + BOUND
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def rows(service: Notifier, table: object) -> list[object]:
    with service.runner._engine.connect() as conn:
        return list(conn.execute(select(table)).all())  # type: ignore[call-overload]


def started(nats_client: NATS, clock: FixedClock, url: str) -> Notifier:
    return notifier(
        nats_client, clock, url, webhook_master_key=KEY, webhook_max_attempts=MAX_ATTEMPTS,
        webhook_allowed_hosts=("127.0.0.1",), webhook_base_delay=0.01, webhook_max_delay=0.02,
        webhook_poll_interval=0.02,
    )  # fmt: skip


@pytest.fixture
def closed_port() -> int:
    return free_port()  # nothing listens there: every attempt fails to connect


async def test_attempts_past_the_1024th_are_counted_and_parked(
    nats_client: NATS, fixed_clock: FixedClock, sqlite_url: str, closed_port: int
) -> None:
    service = started(nats_client, fixed_clock, sqlite_url)
    await service.start(publish=False)
    try:
        reply = await send_command(
            nats_client,
            NOTIFIER,
            SubscribeWebhook(
                command_id="c23-many",
                subscription_id="sub-many",
                organisation_code="GM0363",
                url=f"http://127.0.0.1:{closed_port}/hook",
            ),
        )
        assert isinstance(reply, CommandAccepted), reply
        await service.ticker.catch_up()
        await service.webhooks.run_once()  # the cursor starts at the stream's head
        body = {"id": "e-many", "type": "nl.gt.contract.expiring.v1", "specversion": "1.0"}
        await nats_client.jetstream().publish(
            "gt.org.GM0363.nl.gt.contract.expiring.v1",
            json.dumps(body | {"data": {}}).encode(),
            stream=INTEGRATION_STREAM,
        )
        await until(lambda: rows(service, attempts))  # failing, as the endpoint is closed
    finally:
        await service.stop()
    with service.runner._engine.begin() as conn:  # as 1,024 failures would have left it
        conn.execute(
            update(deliveries).values(
                attempts=1024, next_attempt_at=0.0, claimed_by=None, claimed_until=None
            )
        )
    before = len(rows(service, attempts))

    again = started(nats_client, fixed_clock, sqlite_url)
    await again.start(publish=False)
    try:
        await until(lambda: [d.status for d in rows(again, deliveries)] == ["parked"])
    finally:
        await again.stop()
    tried = [(a.attempt, a.outcome) for a in rows(again, attempts)][before:]
    assert tried == [(1025, "failed"), (1026, "parked")]
    [row] = rows(again, deliveries)
    assert row.attempts == 1026  # type: ignore[attr-defined]
