"""The whole compose topology as local processes: docker-compose.yml is the source.

Three nats-server nodes from deploy/nats (`cluster.NatsCluster`), a PostgreSQL cluster set up
by deploy/postgres/init, and every compose service (`registry`, `enrolment`, `notifier`,
`projector`, `gateway`, then the `reference-data` job) started with its compose command and exactly its
compose environment, with `${VAR}` filled from development secrets and the container host
names and ports replaced by loopback ones. Nothing else is done by hand.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from eventstore.nats_launcher import free_port
from eventstore.pg_launcher import PostgresCluster
from eventstore.signing import EventSigner, new_seed
from gateway.auth import Role, issue_token
from gateway.settings import GatewaySettings
from notifier.nats_accounts import DEV_CALLOUT_SEED, dev_environment
from tests.integration.deploy.cluster import NODES, NatsCluster
from tests.integration.deploy.processes import clean_environment, tail, terminate

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("registry", "enrolment", "notifier", "projector", "gateway")
SIGNERS = ("registry", "enrolment", "notifier")
JOB = "reference-data"
SECRETS = {
    **dev_environment(),
    "GT_POSTGRES_PASSWORD": "dev-postgres-secret",
    "GT_PROJECTOR_PASSWORD": "dev-projector-secret",
    "GT_READER_PASSWORD": "dev-reader-secret",
    "GT_IDENTITIES_PASSWORD": "dev-identities-secret",
    "GT_JWT_SECRET": "dev-jwt-secret-of-sufficient-length-0123456789",
    "GT_WEBHOOK_SIGNING_KEY": "dev-webhook-signing-key-0123456789abcdef",
    "GT_NATS_CALLOUT_SEED": DEV_CALLOUT_SEED,
    # Each service signs what it appends with its own key (docs/security.md).
    **{f"GT_{service.upper()}_SIGNING_SEED": new_seed() for service in SIGNERS},
}
# ... and every reader checks those signatures with the public keys.
SECRETS["GT_SIGNING_PUBLIC_KEYS"] = ",".join(
    f"{service}={EventSigner(SECRETS[f'GT_{service.upper()}_SIGNING_SEED']).public_key}"
    for service in SIGNERS
)
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def interpolate(value: str, variables: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, kind, default = match.groups()
        if name in variables:
            return variables[name]
        if kind == "?":
            raise KeyError(f"compose requires {name}: {default}")
        return default or ""

    return INTERPOLATION.sub(one, value)


class Topology:
    def __init__(self, base: Path, extra_env: dict[str, str] | None = None) -> None:
        self.base = base
        self.nats = NatsCluster(base / "nats")
        self.postgres = PostgresCluster()
        self.extra_env = extra_env or {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.metrics: dict[str, int] = {}
        self.http_port = free_port()
        self.logs = base / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    # ---- the environment compose would give a service ----
    def environment(self, service: str) -> dict[str, str]:
        spec = compose()["services"][service]
        env = {k: interpolate(str(v), SECRETS) for k, v in spec["environment"].items()}
        nats_urls = ",".join(f"nats://{node}:4222" for node in NODES)
        for key, value in env.items():
            value = value.replace(nats_urls, self.nats.url)
            value = value.replace("@postgres:5432/", f"@127.0.0.1:{self.postgres.port}/")
            env[key] = value
        if "GT_METRICS_PORT" in env:
            self.metrics.setdefault(service, free_port())
            env["GT_METRICS_HOST"] = "127.0.0.1"
            env["GT_METRICS_PORT"] = str(self.metrics[service])
        if "GT_HTTP_PORT" in env:
            env["GT_HTTP_HOST"] = "127.0.0.1"
            env["GT_HTTP_PORT"] = str(self.http_port)
        return {**clean_environment(), **env, **self.extra_env}

    def command(self, service: str) -> list[str]:
        command: list[str] = compose()["services"][service]["command"]
        assert command[0] == "python"
        return [sys.executable, *command[1:]]

    # ---- start and stop ----
    def start_infrastructure(self) -> None:
        self.nats.start()
        self.postgres.start()
        env = {
            **os.environ,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.postgres.port),
            "POSTGRES_USER": "postgres",
            "GT_PROJECTOR_PASSWORD": SECRETS["GT_PROJECTOR_PASSWORD"],
            "GT_READER_PASSWORD": SECRETS["GT_READER_PASSWORD"],
            "GT_IDENTITIES_PASSWORD": SECRETS["GT_IDENTITIES_PASSWORD"],
        }
        if os.geteuid() == 0:  # the launcher runs the cluster as `postgres`; psql may stay root
            env["PGUSER"] = "postgres"
        for script in sorted((ROOT / "deploy" / "postgres" / "init").iterdir()):
            subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True)
        self.nats.wait_healthy()

    def start_service(self, service: str) -> subprocess.Popen[bytes]:
        log = self.logs / f"{service}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                self.command(service),
                cwd=self.base,
                env=self.environment(service),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes[service] = process
        return process

    def wait_ready(self, service: str, timeout: float = 90.0) -> None:
        process = self.processes[service]
        url = f"http://127.0.0.1:{self.metrics[service]}/readyz"
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, f"{service} died:\n{tail(self.logs / f'{service}.log')}"
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                f"{service} never ready:\n{tail(self.logs / f'{service}.log')}"
            )
            time.sleep(0.2)

    def run_job(self, service: str = JOB, timeout: float = 240.0) -> str:
        process = self.start_service(service)
        try:
            process.wait(timeout=timeout)
        finally:
            terminate(process)
        text = (self.logs / f"{service}.log").read_text()
        assert process.returncode == 0, text[-3000:]
        return text

    def start(self) -> Topology:
        self.start_infrastructure()
        for service in SERVICES:
            self.start_service(service)
        for service in SERVICES:
            self.wait_ready(service)
        return self

    def stop(self) -> None:
        for process in self.processes.values():
            terminate(process)
        self.nats.stop()
        self.postgres.destroy()

    # ---- a coordinator's client ----
    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def token(self, role: Role = Role.COORDINATOR) -> str:
        return issue_token(
            GatewaySettings(jwt_secret=SECRETS["GT_JWT_SECRET"]), role, "operations-test"
        )
