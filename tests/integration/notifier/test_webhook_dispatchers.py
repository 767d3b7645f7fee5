"""Two webhook dispatchers (two notifier instances) on one PostgreSQL database: every event is
delivered once, retries included, and every request is recorded once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nats.aio.client import Client as NATS
from sqlalchemy import select

from contracts_schema.notifier.commands import SubscribeWebhook
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import NOTIFIER
from eventstore.clock import FixedClock
from eventstore.serving import send_command
from eventstore.testing.nats_server import free_port
from notifier.db import notifier_engine
from notifier.feed import INTEGRATION_STREAM
from notifier.webhook_store import cursors
from notifier.webhooks import WebhookDispatcher, attempts, deliveries
from tests.integration.notifier.facts import notifier

EVENTS = 40


class FlakyReceiver:
    """Answers 503 to the first attempt of every third delivery, 204 otherwise, after a short
    think (20 ms). Per delivery, not per request: with two dispatchers interleaving, "every
    third request" could fail one delivery's retries again and again until it was parked."""

    def __init__(self, port: int) -> None:
        self.requests: list[str] = []
        self.accepted: list[str] = []
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(0.02)
                with receiver._lock:
                    delivery = self.headers["X-GT-Delivery"]
                    receiver.requests.append(delivery)
                    attempts = receiver._attempts
                    attempts[delivery] = attempts.get(delivery, 0) + 1
                    ok = attempts[delivery] > 1 or len(attempts) % 3 != 0
                    if ok:
                        receiver.accepted.append(delivery)
                self.send_response(204 if ok else 503)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_two_dispatchers_on_one_postgres_database_deliver_each_event_once(
    nats_client: NATS, fixed_clock: FixedClock, postgres_url: str
) -> None:
    port = free_port()
    receiver = FlakyReceiver(port)
    tuning = {
        "webhook_base_delay": 0.01, "webhook_max_delay": 0.05, "webhook_poll_interval": 0.02,
        "webhook_claim_batch": 5, "webhook_max_attempts": 5,
        "webhook_master_key": "test-master-key-0123456789",
        "webhook_allowed_hosts": ("127.0.0.1",),  # the operator's list: a local receiver
    }  # fmt: skip
    service = notifier(nats_client, fixed_clock, postgres_url, **tuning)
    await service.start(publish=False, webhooks=False)
    # Two dispatchers as two instances would run them: each with its own connection pool.
    dispatchers = [
        WebhookDispatcher(
            nats_client, notifier_engine(postgres_url), service.projection, fixed_clock,
            service.settings,
        )
        for _ in range(2)
    ]  # fmt: skip

    def cursor_placed() -> bool:
        with check.connect() as conn:
            return conn.execute(select(cursors.c.next_seq)).first() is not None

    def unfinished() -> list[object]:
        with check.connect() as conn:
            rows = conn.execute(select(deliveries)).all()
        left = [r for r in rows if (r.status, r.claimed_by) != ("delivered", None)]
        return left if len(rows) == EVENTS else [f"{len(rows)} deliveries", *left]

    check = notifier_engine(postgres_url)
    try:
        reply = await send_command(
            nats_client,
            NOTIFIER,
            SubscribeWebhook(
                command_id="s-1",
                subscription_id="sub-1",
                organisation_code="GM0363",
                url=f"http://127.0.0.1:{port}/hook",
                event_types=[],
            ),
        )
        assert isinstance(reply, CommandAccepted)
        await service.ticker.catch_up()
        for dispatcher in dispatchers:
            await dispatcher.start()
        # A new subscription's deliveries start after the INTEGRATION head that the first
        # dispatcher round to see it reads (its cursor): publish only once that round ran, or
        # on a busy machine the first events land before the cursor and are never delivered.
        deadline = time.monotonic() + 120
        while not await asyncio.to_thread(cursor_placed):
            assert time.monotonic() < deadline, "no dispatcher round placed the cursor"
            await asyncio.sleep(0.02)
        js = nats_client.jetstream()
        for i in range(EVENTS):
            body = {"id": f"e{i}", "type": "nl.gt.contract.expiring.v1", "data": {}}
            await js.publish(
                "gt.org.GM0363.nl.gt.contract.expiring.v1",
                json.dumps(body).encode(),
                stream=INTEGRATION_STREAM,
            )
        deadline = time.monotonic() + 120
        while len(receiver.accepted) < EVENTS or await asyncio.to_thread(unfinished):
            assert time.monotonic() < deadline, (
                f"accepted {len(receiver.accepted)} of {EVENTS}; unfinished:"
                f" {await asyncio.to_thread(unfinished)}"
            )
            await asyncio.sleep(0.02)
        # Every delivery is recorded as delivered (not only answered: a stop() between the
        # receiver's 204 and the record would leave the claim behind). Both keep polling:
        seen = len(receiver.requests)
        await asyncio.sleep(0.3)
        assert len(receiver.requests) == seen  # nothing more may arrive
    finally:
        for dispatcher in dispatchers:
            await dispatcher.stop()
        await service.stop()
        receiver.close()
        check.dispose()

    accepted = Counter(receiver.accepted)
    assert len(accepted) == EVENTS
    assert max(accepted.values()) == 1, accepted.most_common(3)
    with notifier_engine(postgres_url).connect() as conn:
        rows = conn.execute(select(deliveries)).all()
        recorded = conn.execute(select(attempts)).all()
    assert len(rows) == EVENTS
    assert {(r.status, r.claimed_by) for r in rows} == {("delivered", None)}
    # Every request the receiver saw is recorded once, by the dispatcher that made it.
    assert len(recorded) == len(receiver.requests) > EVENTS
    assert Counter(a.outcome for a in recorded)["delivered"] == EVENTS
    assert {a.dispatcher for a in recorded} == {d.owner for d in dispatchers}
