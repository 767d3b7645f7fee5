"""The gateway as its container runs it (`python -m bootstrap.serve gateway`, GT_* settings only): logged in to
a nats-server with the deployment's users, GraphQL reads through a read-only role, beside the
projector process (`... projector`: the read models on PostgreSQL with the projector's rights)
and the enrolment service's process. It becomes ready, answers /healthz, /readyz and /metrics
(projection lag) on the metrics port, GraphQL on the HTTP port (read-your-writes on the
projector's announced positions), stops cleanly on SIGTERM, and refuses bad configuration by
name."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from contracts_schema.subjects import ENROLMENT
from eventstore.testing.nats_server import NatsServer, free_port
from gateway.auth import Role, issue_token
from gateway.settings import GatewaySettings
from tests.integration.deploy.processes import (
    clean_environment,
    compose_command,
    json_log_lines,
    service_environment,
    start,
    start_secured_server,
    terminate,
    wait_ready,
)

pytestmark = pytest.mark.postgres

SECRET = "gateway-process-test-secret-of-enough-length"
REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } ... on DomainError { code message } } }"""
ORGANISATION = 'query($t: String) { organisation(code: "GM0363", consistencyToken: $t) { name } }'


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = start_secured_server(tmp_path_factory.mktemp("secured"))
    yield server
    server.stop()


def read_only_url(database_url: str) -> str:
    """A login role that may only SELECT the tables the database's owner creates later."""
    url = make_url(database_url)
    role = f"gt_reader_{uuid.uuid4().hex[:8]}"
    dsn = f"host={url.host} port={url.port} user={url.username} dbname={url.database}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {url.username} IN SCHEMA public"
            f" GRANT SELECT ON TABLES TO {role}"
        )
    return url.set(username=role).render_as_string(hide_password=False)


async def graphql(http: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    token = issue_token(GatewaySettings(jwt_secret=SECRET), Role.COORDINATOR, "deploy-test")
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_gateway_process_serves_graphql_health_and_projection_lag(
    secured_server: NatsServer, postgres_url: str, tmp_path: Path
) -> None:
    enrolment_metrics, metrics_port, http_port = free_port(), free_port(), free_port()
    projector_metrics = free_port()
    enrolment_log, gateway_log = tmp_path / "enrolment.log", tmp_path / "gateway.log"
    projector_log = tmp_path / "projector.log"
    reader_url = read_only_url(postgres_url)  # before the projector creates its tables
    # The enrolment service keeps its own read models apart (SQLite) and starts alongside.
    enrolment = start(
        compose_command("enrolment"),
        {
            **service_environment("enrolment", secured_server, enrolment_metrics),
            "GT_DATABASE_URL": f"sqlite:///{tmp_path / 'enrolment.db'}",
            "GT_DATA_DIR": str(tmp_path),
        },
        tmp_path,
        enrolment_log,
    )
    projector = start(
        compose_command("projector"),
        {
            **service_environment("projector", secured_server, projector_metrics),
            "GT_DATABASE_URL": postgres_url,
        },
        tmp_path,
        projector_log,
    )
    gateway = start(
        compose_command("gateway"),
        {
            **service_environment("gateway", secured_server, metrics_port),
            "GT_DATABASE_URL": postgres_url,
            "GT_READ_DATABASE_URL": reader_url,
            "GT_HTTP_HOST": "127.0.0.1",
            "GT_HTTP_PORT": str(http_port),
            "GT_JWT_SECRET": SECRET,
        },
        tmp_path,
        gateway_log,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{projector_metrics}") as http:
            # It imports, connects and creates every table first: a slow start on a busy machine.
            ready = await wait_ready(http, projector, projector_log, timeout=120)
            assert ready.json()["checks"] == {"nats": True, "projections": True}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{enrolment_metrics}") as http:
            await wait_ready(http, enrolment, enrolment_log)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{metrics_port}", timeout=5) as ops,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=15) as api,
        ):
            ready = await wait_ready(ops, gateway, gateway_log)
            assert ready.json()["checks"] == {"nats": True, "projections": True}
            assert (await ops.get("/healthz")).json() == {"status": "ok"}

            # A write through the gateway, the enrolment service's decision, the gateway's
            # projection, and the read that waits for it: the whole path over HTTP.
            written = await graphql(
                api,
                REGISTER,
                i={
                    "commandId": "gw-proc-1",
                    "code": "GM0363",
                    "name": "Amsterdam",
                    "kind": "MUNICIPALITY",
                },
            )
            result = written["registerOrganisation"]
            assert result["__typename"] == "CommandSucceeded", result
            read = await graphql(api, ORGANISATION, t=result["consistencyToken"])
            assert read["organisation"] == {"name": "Amsterdam"}

            # The token waited for the read models that answer it; the others on the stream
            # (the audit's history) may commit a moment later: each reports its lag until 0.
            for _ in range(300):  # (a bound that only turns a hang into a failure)
                metrics = (await ops.get("/metrics")).text
                lags = re.findall(
                    rf'gt_projection_lag_events\{{projection="(\w+)",stream="{ENROLMENT.stream}"\}} (\S+)',
                    metrics,
                )
                if lags and all(float(value) == 0.0 for _, value in lags):
                    break
                await asyncio.sleep(0.1)
        assert lags, metrics[-2000:]
        assert all(float(value) == 0.0 for _, value in lags), lags  # caught up to the write
        assert terminate(gateway) == 0, gateway_log.read_text()[-2000:]
        assert terminate(projector) == 0, projector_log.read_text()[-2000:]
    finally:
        terminate(gateway)
        terminate(projector)
        terminate(enrolment)
    lines = json_log_lines(gateway_log)
    assert lines, "no JSON log lines"
    assert all("correlation_id" in line for line in lines)
    assert any(line["message"] == "gateway: stopping" for line in lines)


def test_bad_configuration_exits_2_naming_every_bad_variable(tmp_path: Path) -> None:
    settings = {
        "GT_HTTP_PORT": "70000",
        "GT_METRICS_PORT": "ninety-one hundred",
        "GT_NATS_URL": "nats://127.0.0.1:4222,localhost:4222",
        "GT_DATABASE_URL": "mysql://x/y",
    }  # and no GT_JWT_SECRET, outside dev mode
    done = subprocess.run(
        compose_command("gateway"),
        env={**clean_environment(), **settings},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    problems = done.stderr.splitlines()
    assert problems[0] == "gateway: bad configuration:"
    assert [p.split(":", 1)[0] for p in problems[1:]] == [
        "  - GT_HTTP_PORT",
        "  - GT_METRICS_PORT",
        "  - GT_NATS_URL",
        "  - GT_DATABASE_URL",
        "  - GT_JWT_SECRET is not set",
    ]
    assert "'localhost:4222' is not a NATS URL" in done.stderr
