"""Each service as the container runs it (`python -m <service>`, settings from GT_* only,
logged in to a nats-server started with deploy/nats/accounts.conf as its own service user)
answers /healthz, /readyz and /metrics, rejects a malformed command and logs JSON lines."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import nats
import pytest
import yaml
from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandRejected
from eventstore.serving import parse_reply
from eventstore.testing.nats_server import NatsServer, free_port
from notifier.nats_accounts import dev_environment, dev_password
from tests.integration.deploy.test_compose_file import APP_SERVICES

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One node with the deployment's users; passwords from its environment, as in compose."""
    base = tmp_path_factory.mktemp("secured")
    shutil.copy(ROOT / "deploy" / "nats" / "accounts.conf", base / "accounts.conf")
    config = base / "server.conf"
    config.write_text(f'jetstream {{ store_dir: "{base / "js"}" }}\ninclude ./accounts.conf\n')
    server = NatsServer(base, config_file=config, env=dev_environment()).start()
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


def runnable(name: str) -> bool:
    return importlib.util.find_spec(f"{name}.__main__") is not None


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("service", APP_SERVICES)
async def test_service_process_answers_health_and_metrics(
    service: str, secured_server: NatsServer, gateway_client: NATS, tmp_path: Path
) -> None:
    if not runnable(service):
        pytest.skip(f"`python -m {service}` does not exist on this branch yet")
    port = free_port()
    env = {
        **os.environ,
        "GT_NATS_URL": secured_server.url,
        "GT_NATS_USER": service,
        "GT_NATS_PASSWORD": dev_password(service),
        "GT_STREAM_REPLICAS": "1",
        "GT_METRICS_HOST": "127.0.0.1",
        "GT_METRICS_PORT": str(port),
        "GT_LOG_FORMAT": "json",
        "GT_DATA_DIR": str(tmp_path),
        "GT_DATABASE_URL": f"sqlite:///{tmp_path / 'rm.db'}",
    }
    stderr = tmp_path / "stderr.log"
    # Exactly the container's command, from docker-compose.yml.
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service][
        "command"
    ]
    process = start([sys.executable, *command[1:]], env, tmp_path, stderr)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, stderr.read_text()[-2000:]
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "service never became ready"
                await asyncio.sleep(0.1)
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
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    lines = [line for line in stderr.read_text().splitlines() if line.startswith("{")]
    assert lines, "no JSON log lines"
    assert all("correlation_id" in json.loads(line) for line in lines)
