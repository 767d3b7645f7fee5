"""Services as the containers run them: the compose command as a subprocess, GT_* settings only,
logged in to a nats-server started with deploy/nats/accounts.conf."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from eventstore.testing.nats_server import NatsServer
from notifier.nats_accounts import dev_environment, dev_password

ROOT = Path(__file__).resolve().parents[3]


def start_secured_server(base: Path) -> NatsServer:
    """One node with the deployment's users; passwords from its environment, as in compose."""
    shutil.copy(ROOT / "deploy" / "nats" / "accounts.conf", base / "accounts.conf")
    config = base / "server.conf"
    config.write_text(f'jetstream {{ store_dir: "{base / "js"}" }}\ninclude ./accounts.conf\n')
    return NatsServer(base, config_file=config, env=dev_environment()).start()


def compose_command(service: str) -> list[str]:
    """Exactly the container's command from docker-compose.yml, with this interpreter."""
    command: list[str] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][
        service
    ]["command"]
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def clean_environment() -> dict[str, str]:
    """The test process's environment without any GT_* setting that would leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GT_")}


def service_environment(service: str, server: NatsServer, metrics_port: int) -> dict[str, str]:
    return {
        **clean_environment(),
        "GT_NATS_URL": server.url,
        "GT_NATS_USER": service,
        "GT_NATS_PASSWORD": dev_password(service),
        "GT_STREAM_REPLICAS": "1",
        "GT_METRICS_HOST": "127.0.0.1",
        "GT_METRICS_PORT": str(metrics_port),
        "GT_LOG_FORMAT": "json",
        # Required outside `make run` (the notifier signs webhook deliveries with it).
        "GT_WEBHOOK_MASTER_KEY": "test-webhook-master-key-0123456789",
    }


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def tail(log: Path) -> str:
    return log.read_text()[-2000:]


async def wait_ready(
    http: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path, timeout: float = 120
) -> httpx.Response:
    """Poll /readyz until it answers 200; fail with the process's log if it dies first."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, tail(log)
        try:
            response = await http.get("/readyz")
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"never became ready:\n{tail(log)}"
        await asyncio.sleep(0.1)


def terminate(process: subprocess.Popen[bytes], timeout: float = 60) -> int | None:
    """SIGTERM and wait; returns the exit code, or None when it had to be killed.

    The wait bounds a hang, not a speed: a two-worker gateway (a supervisor and two
    processes, each closing its server, read side and NATS connection) logged "stopping" and
    was still exiting 10 s later on a machine at load 20 (a fresh clone's suite beside seven
    other jobs), and the test failed on the kill."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def json_log_lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
