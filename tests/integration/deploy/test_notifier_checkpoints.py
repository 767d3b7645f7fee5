"""The notifier's container (`python -m bootstrap.serve notifier run`, as compose and k8s run it,
logged in as the `notifier` user of deploy/nats/accounts.conf) signs what it appends and anchors
its stream in signed checkpoints, as the registry and enrolment containers do; `audit verify`,
logged in as the auditor with the public key only, checks them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NATS
from typer.testing import CliRunner

from bootstrap.audit_cli import audit_app
from contracts_schema.notifier.commands import SubscribeWebhook
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import NOTIFIER
from eventstore.checkpoints import read_checkpoints
from eventstore.clock import SystemClock
from eventstore.serving import send_command
from eventstore.signing import PUBLIC_KEYS_ENV, EventSigner, new_seed
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer, free_port
from notifier.nats_accounts import dev_password
from tests.integration.deploy.processes import (
    compose_command,
    service_environment,
    start,
    start_secured_server,
    terminate,
    wait_ready,
)

pytestmark = pytest.mark.jetstream
PATIENCE = 120.0  # seconds for the first checkpoint after the event (interval: 0.2 s): a bound
cli = CliRunner()


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = start_secured_server(tmp_path_factory.mktemp("secured"))
    yield server
    server.stop()


async def login(server: NatsServer, user: str) -> NATS:
    return await nats.connect(server.url, user=user, password=dev_password(user))


@pytest.fixture
async def gateway(secured_server: NatsServer) -> AsyncIterator[NATS]:
    nc = await login(secured_server, "gateway")
    yield nc
    await nc.close()


async def test_the_notifier_container_writes_signed_checkpoints_that_audit_verify_checks(
    secured_server: NatsServer, gateway: NATS, tmp_path: Path
) -> None:
    seed = new_seed()
    public_key = EventSigner(seed).public_key
    port = free_port()
    env = {
        **service_environment("notifier", secured_server, port),
        "GT_DATA_DIR": str(tmp_path),
        "GT_DATABASE_URL": f"sqlite:///{tmp_path / 'notifier.db'}",
        "GT_SIGNING_SEED": seed,
        "GT_CHECKPOINT_INTERVAL": "0.2",
        "GT_WEBHOOK_MASTER_KEY": "a-test-webhook-master-key",
    }
    stderr = tmp_path / "stderr.log"
    process = start(compose_command("notifier"), env, tmp_path, stderr)
    audit = await login(secured_server, "audit")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            await wait_ready(http, process, stderr)
        command = SubscribeWebhook(
            command_id="checkpoint-1",
            subscription_id="checkpoint-sub",
            organisation_code="GM0363",
            url="https://hooks.gm0363.example/gt",
        )
        reply = await send_command(gateway, NOTIFIER, command)
        assert isinstance(reply, CommandAccepted), reply
        store = EventStore(audit, SystemClock())
        head = await store.last_seq(NOTIFIER)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PATIENCE
        while not [c for c in await read_checkpoints(store, NOTIFIER) if c.seq >= head]:
            assert process.poll() is None, stderr.read_text()[-2000:]
            assert loop.time() < deadline, f"no notifier checkpoint within {PATIENCE:g} s"
            await asyncio.sleep(0.1)
        checkpoints = await read_checkpoints(store, NOTIFIER)
        assert all(c.signer == public_key and c.holds() for c in checkpoints)
        events = [e async for e in store.read_stream(NOTIFIER, 1)]
        assert events
        assert all(e.envelope.signer == public_key for e in events)
    finally:
        await audit.close()
        terminate(process)

    auditor = {
        "GT_NATS_URL": secured_server.url,
        "GT_NATS_USER": "audit",
        "GT_NATS_PASSWORD": dev_password("audit"),
        "GT_DATA_DIR": str(tmp_path / "no-keys-here"),
        PUBLIC_KEYS_ENV: f"notifier={public_key}",
    }
    args = ["verify", "--context", "notifier", "--streams-only"]
    result = await asyncio.to_thread(cli.invoke, audit_app(), args, env=auditor)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("stream NOTIFIER"))
    counts = re.search(r"(\d+) signed, (\d+) checkpoints: ok", line)
    assert counts is not None, line
    assert int(counts[1]) == len(events), line
    assert int(counts[2]) >= 1, line

    # With another key trusted, the same checkpoints are named.
    auditor[PUBLIC_KEYS_ENV] = f"notifier={EventSigner(new_seed()).public_key}"
    result = await asyncio.to_thread(cli.invoke, audit_app(), args, env=auditor)
    assert result.exit_code == 1, result.output
    assert "bad-checkpoint" in result.output
