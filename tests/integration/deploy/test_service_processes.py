"""Each command service as the container runs it (`python -m bootstrap.serve <service>`, settings from GT_*
only, logged in to a nats-server started with deploy/nats/accounts.conf as its own service
user) answers /healthz, /readyz and /metrics, rejects a malformed command and logs JSON lines.
The gateway and the projector take no commands: tests/integration/deploy/test_gateway_process.py
covers them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandRejected
from eventstore.serving import parse_reply
from eventstore.testing.nats_server import NatsServer, free_port
from notifier.nats_accounts import dev_password
from tests.integration.deploy.processes import (
    compose_command,
    json_log_lines,
    service_environment,
    start,
    start_secured_server,
    terminate,
    wait_ready,
)
from tests.integration.deploy.test_compose_file import APP_SERVICES

COMMAND_SERVICES = tuple(s for s in APP_SERVICES if s not in {"gateway", "projector"})


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = start_secured_server(tmp_path_factory.mktemp("secured"))
    yield server
    server.stop()


@pytest.fixture
async def gateway_client(secured_server: NatsServer) -> AsyncIterator[NATS]:
    """Commands come from the gateway: the test sends them with the gateway's user."""
    nc = await nats.connect(
        secured_server.url, user="gateway", password=dev_password("gateway"), connect_timeout=2
    )
    yield nc
    await nc.close()


@pytest.mark.parametrize("service", COMMAND_SERVICES)
async def test_service_process_answers_health_and_metrics(
    service: str, secured_server: NatsServer, gateway_client: NATS, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **service_environment(service, secured_server, port),
        "GT_DATA_DIR": str(tmp_path),
        "GT_DATABASE_URL": f"sqlite:///{tmp_path / 'rm.db'}",
    }
    stderr = tmp_path / "stderr.log"
    process = start(compose_command(service), env, tmp_path, stderr)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            await wait_ready(http, process, stderr)
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            reply = parse_reply(
                (await gateway_client.request(f"{service}.commands.Nonsense", b"{", timeout=5)).data
            )
            assert isinstance(reply, CommandRejected)
            assert reply.code == "MALFORMED_COMMAND"
            metrics = (await http.get("/metrics")).text
        assert (
            f'gt_command_duration_seconds_count{{command_type="Nonsense",outcome="MALFORMED_COMMAND",service="{service}"}} 1.0'
            in metrics
        )
        assert "gt_projection_lag_events" in metrics
    finally:
        terminate(process)
    lines = json_log_lines(stderr)
    assert lines, "no JSON log lines"
    assert all("correlation_id" in line for line in lines)
