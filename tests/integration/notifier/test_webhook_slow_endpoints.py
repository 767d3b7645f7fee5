"""attack8: a webhook endpoint that never finishes answering (it trickles its response a byte
at a time, each within the per-read timeout) or answers with an endless body must not hold
the dispatcher: the attempt fails by the whole-request deadline and the other subscribers'
deliveries go on meanwhile (before: the attempt never ended, and every later delivery of every
subscriber waited behind it, past its claim lease)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.notifier.commands import SubscribeWebhook
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import NOTIFIER
from eventstore.clock import FixedClock
from eventstore.serving import send_command
from eventstore.testing.nats_server import free_port
from notifier.service import Notifier
from notifier.webhooks import attempts, deliveries
from tests.integration.notifier.facts import notifier
from tests.integration.notifier.test_webhooks import KEY, Receiver, publish, rows, until


class Trickler:
    """Accepts a POST, then sends its answer one byte every 0.1 s for as long as the client
    listens (`body`: a complete status line, then an endless chunked body)."""

    def __init__(self, port: int, *, body: bool) -> None:
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", port))
        self._body = body
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                if self._body:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
                else:
                    chunk = b"H"
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not self._stop.is_set():
                    conn.sendall(chunk)
                    time.sleep(0.1)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


@pytest.fixture
def ports() -> tuple[int, int]:
    return free_port(), free_port()


async def subscribe(nc: NATS, service: Notifier, sub: str, port: int) -> None:
    reply = await send_command(
        nc,
        NOTIFIER,
        SubscribeWebhook(
            command_id=f"s-{sub}",
            subscription_id=sub,
            organisation_code="GM0363",
            url=f"http://127.0.0.1:{port}/hook",
            event_types=["nl.gt.contract.expiring.v1"],
        ),
    )
    assert isinstance(reply, CommandAccepted), reply


@pytest.mark.parametrize("endless_body", [False, True], ids=["trickled-headers", "endless-body"])
async def test_a_hanging_endpoint_fails_by_the_deadline_and_holds_no_one_else(
    nats_client: NATS,
    fixed_clock: FixedClock,
    sqlite_url: str,
    ports: tuple[int, int],
    endless_body: bool,
) -> None:
    slow_port, good_port = ports
    trickler = Trickler(slow_port, body=endless_body)
    receiver = Receiver(good_port)
    service = notifier(
        nats_client, fixed_clock, sqlite_url, webhook_master_key=KEY, webhook_max_attempts=1,
        webhook_allowed_hosts=("127.0.0.1",), webhook_timeout=3.0, webhook_claim_lease=15.0,
        webhook_base_delay=0.01, webhook_max_delay=0.05, webhook_poll_interval=0.02,
    )  # fmt: skip
    await service.start(publish=False)
    try:
        # The slow subscriber's id sorts first: its delivery is claimed ahead of the other's.
        await subscribe(nats_client, service, "a-slow", slow_port)
        await subscribe(nats_client, service, "sub-1", good_port)
        await service.ticker.catch_up()
        await service.webhooks.run_once()  # cursors start at the stream's head
        await publish(
            nats_client, "gt.org.GM0363.nl.gt.contract.expiring.v1", "e1",
            "nl.gt.contract.expiring.v1",
        )  # fmt: skip
        # A bound for the test only (the attempt's own deadline is 3 s): before the fix
        # neither condition was ever reached.
        await until(lambda: receiver.accepted, timeout=30)
        # The endless body follows a 200: the endpoint took it, its body is not read.
        slow_status = "delivered" if endless_body else "parked"
        await until(
            lambda: (
                {(d.subscription_id, d.status) for d in rows(service, deliveries)}
                == {("a-slow", slow_status), ("sub-1", "delivered")}
            ),
            timeout=30,
        )
    finally:
        await service.stop()
        trickler.close()
        receiver.close()
    slow = [a for a in rows(service, attempts) if a.subscription_id == "a-slow"]
    if endless_body:
        assert [(a.outcome, a.status_code, a.error) for a in slow] == [("delivered", 200, None)]
    else:
        assert [a.outcome for a in slow] == ["parked"]
        assert "did not answer within 3.0 s" in slow[0].error
        # Side by side: the other subscriber's attempt, claimed after the slow one, was
        # recorded before it (ids count in recording order); one at a time, after it.
        [good] = [a for a in rows(service, attempts) if a.subscription_id == "sub-1"]
        assert good.id < slow[0].id
    assert trickler.connections == 1
