"""attack9: DNS rebinding. A webhook host whose name answers a public address to the
dispatcher's check and 127.0.0.1 a moment later must not get a connection to the loopback
service. Before: the HTTP client resolved the name again when it connected and opened a TCP
connection (a TLS hello) to whatever listened on 127.0.0.1 at that port; now the connection goes
to the addresses that were checked, and an attempt whose resolution names a private address
fails, naming it, before any connection. The name's answers come from a rebinding resolver in
this process (the attacker's DNS), put in place of `socket.getaddrinfo`, which both the check
and the HTTP client call."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.notifier.commands import SubscribeWebhook
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import NOTIFIER
from eventstore.clock import FixedClock
from eventstore.serving import send_command
from eventstore.testing.nats_server import free_port
from notifier.webhooks import attempts, deliveries
from tests.integration.notifier.facts import notifier
from tests.integration.notifier.test_webhooks import KEY, publish, rows, until

HOST = "hooks.rebinding.example"
PUBLIC = "93.184.215.14"  # a global address: the check's answer
EXPIRING = "nl.gt.contract.expiring.v1"


class Listener:
    """Counts the TCP connections made to 127.0.0.1:port (an internal service)."""

    def __init__(self, port: int) -> None:
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", port))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """HOST resolves to PUBLIC the first time, to 127.0.0.1 afterwards; the answers given."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name != HOST:
            return real(host, port, *args, **kwargs)
        answers.append(PUBLIC if not answers else "127.0.0.1")
        return real(answers[-1], port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return answers


async def test_a_name_rebound_to_loopback_after_the_check_gets_no_connection(
    nats_client: NATS, fixed_clock: FixedClock, sqlite_url: str, rebinding: list[str]
) -> None:
    port = free_port()
    internal = Listener(port)
    service = notifier(
        nats_client, fixed_clock, sqlite_url, webhook_master_key=KEY, webhook_max_attempts=1,
        webhook_timeout=2.0, webhook_claim_lease=5.0, webhook_poll_interval=0.02,
    )  # fmt: skip
    await service.start(publish=False)
    try:
        command = SubscribeWebhook(
            command_id="s-rebind",
            subscription_id="rebind",
            organisation_code="GM0363",
            url=f"https://{HOST}:{port}/hook",
            event_types=[EXPIRING],
        )
        assert isinstance(await send_command(nats_client, NOTIFIER, command), CommandAccepted)
        await service.ticker.catch_up()
        await service.webhooks.run_once()  # the cursor starts at the stream's head
        await publish(nats_client, f"gt.org.GM0363.{EXPIRING}", "e1", EXPIRING)
        await until(lambda: [d.status for d in rows(service, deliveries)] == ["parked"], 20)
    finally:
        await service.stop()
        internal.close()
    assert internal.connections == 0
    [attempt] = rows(service, attempts)
    assert f"{HOST} resolves to 127.0.0.1" in attempt.error, attempt.error
    assert "not a public address" in attempt.error
    assert rebinding[0] == PUBLIC  # the check was given the public answer
