"""Webhook deliveries to a local HTTP receiver: signed, retried, parked, replayed."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select

from contracts_schema.notifier.commands import ReplayWebhookDeliveries, SubscribeWebhook
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import NOTIFIER
from eventstore.clock import FixedClock
from eventstore.serving import send_command
from eventstore.testing.nats_server import free_port
from notifier.feed import INTEGRATION_STREAM
from notifier.service import Notifier
from notifier.signing import subscription_secret, verify
from notifier.webhooks import attempts, deliveries
from tests.integration.notifier.facts import notifier

KEY = "test-master-key-0123456789"


class Receiver:
    """A tiny HTTP endpoint on 127.0.0.1 that fails the first `failures` requests."""

    def __init__(self, port: int, failures: int = 0) -> None:
        self.failures = failures
        self.accepted: list[dict[str, object]] = []
        self.requests = 0
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                ok = verify(
                    subscription_secret(KEY, "sub-1"),
                    self.headers["X-GT-Timestamp"],
                    body,
                    self.headers["X-GT-Signature"],
                    now=time.time(),
                )
                if not ok:
                    receiver.bad_signatures += 1
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(503)
                else:
                    receiver.accepted.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def port() -> int:
    return free_port()


async def until(predicate: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def setup(nc: NATS, clock: FixedClock, database_url: str, port: int) -> Notifier:
    service = notifier(
        nc, clock, database_url, webhook_master_key=KEY, webhook_max_attempts=4, webhook_allowed_hosts=("127.0.0.1",),
        webhook_base_delay=0.01, webhook_max_delay=0.05, webhook_poll_interval=0.02,
    )  # fmt: skip
    await service.start(publish=False)
    try:
        await subscribe(nc, service, port)
    except BaseException:
        await service.stop()
        raise
    return service


async def subscribe(nc: NATS, service: Notifier, port: int) -> None:
    reply = await send_command(
        nc,
        NOTIFIER,
        SubscribeWebhook(
            command_id="s-1",
            subscription_id="sub-1",
            organisation_code="GM0363",
            url=f"http://127.0.0.1:{port}/hook",
            event_types=["nl.gt.contract.expiring.v1"],
        ),
    )
    assert isinstance(reply, CommandAccepted)
    await service.ticker.catch_up()
    await service.webhooks.run_once()  # the subscription's cursor starts at the stream's head


async def publish(nc: NATS, subject: str, event_id: str, cloud_type: str) -> int:
    body = {"id": event_id, "type": cloud_type, "specversion": "1.0", "data": {}}
    ack = await nc.jetstream().publish(
        subject, json.dumps(body).encode(), stream=INTEGRATION_STREAM
    )
    return int(ack.seq)


def rows(service: Notifier, table: object) -> list[object]:
    with service.runner._engine.connect() as conn:
        return list(conn.execute(select(table)).all())  # type: ignore[call-overload]


async def test_signed_delivery_survives_three_failures_and_filters(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str, port: int
) -> None:
    receiver = Receiver(port, failures=3)
    service = await setup(nats_client, fixed_clock, database_url, port)
    try:
        await publish(
            nats_client,
            "gt.org.GM0363.nl.gt.contract.expiring.v1",
            "e1",
            "nl.gt.contract.expiring.v1",
        )
        await publish(
            nats_client,
            "gt.org.GM0599.nl.gt.contract.expiring.v1",
            "x",
            "nl.gt.contract.expiring.v1",
        )
        await publish(
            nats_client, "gt.org.GM0363.nl.gt.contract.signed.v1", "y", "nl.gt.contract.signed.v1"
        )
        await until(lambda: receiver.accepted)
        await until(lambda: [a.outcome for a in rows(service, attempts)][-1:] == ["delivered"])
        await asyncio.sleep(0.2)  # nothing else may arrive
    finally:
        await service.stop()
        receiver.close()
    assert [e["id"] for e in receiver.accepted] == ["e1"]
    assert receiver.requests == 4
    assert receiver.bad_signatures == 0
    outcomes = [(a.attempt, a.status_code, a.outcome) for a in rows(service, attempts)]
    assert outcomes == [
        (1, 503, "failed"),
        (2, 503, "failed"),
        (3, 503, "failed"),
        (4, 204, "delivered"),
    ]


async def test_receiver_down_for_good_is_parked_then_replayed(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str, port: int
) -> None:
    service = await setup(nats_client, fixed_clock, database_url, port)
    receiver = None
    try:
        seq = await publish(
            nats_client,
            "gt.org.GM0363.nl.gt.contract.expiring.v1",
            "e2",
            "nl.gt.contract.expiring.v1",
        )
        await until(lambda: [d.status for d in rows(service, deliveries)] == ["parked"])
        assert [a.outcome for a in rows(service, attempts)] == ["failed"] * 3 + ["parked"]

        receiver = Receiver(port)
        replay = await send_command(
            nats_client,
            NOTIFIER,
            ReplayWebhookDeliveries(
                command_id="r-1", subscription_id="sub-1", organisation_code="GM0363", from_seq=seq
            ),
        )
        assert isinstance(replay, CommandAccepted)
        await until(lambda: receiver is not None and receiver.accepted)
        # The receiver has the POST before the service has its answer and records it.
        await until(lambda: [d.status for d in rows(service, deliveries)] == ["delivered"])
        unknown = await send_command(
            nats_client,
            NOTIFIER,
            ReplayWebhookDeliveries(
                command_id="r-2", subscription_id="nope", organisation_code="GM0363", from_seq=1
            ),
        )
    finally:
        await service.stop()
        if receiver is not None:
            receiver.close()
    assert [e["id"] for e in receiver.accepted] == ["e2"]
    assert [d.status for d in rows(service, deliveries)] == ["delivered"]
    assert len(rows(service, attempts)) == 5
    assert isinstance(unknown, CommandRejected)
    assert unknown.code == "SUBSCRIPTION_UNKNOWN"


async def test_dispatcher_stops_whenever_it_is_stopped(
    nats_client: NATS, fixed_clock: FixedClock, sqlite_url: str, port: int
) -> None:
    # Python 3.11's wait_for (in every nats-py request) loses a cancel() that lands as the
    # reply arrives; the dispatcher's loop then ran on and stop() never returned.
    service = notifier(
        nats_client, fixed_clock, sqlite_url, webhook_master_key=KEY, webhook_poll_interval=0.001
    )
    await service.start(publish=False)
    try:
        await subscribe(nats_client, service, port)
        for _ in range(40):
            await asyncio.sleep(random.uniform(0, 0.03))  # stop it anywhere in its round
            async with asyncio.timeout(5):
                await service.webhooks.stop()
            await service.webhooks.start()
    finally:
        await service.stop()
