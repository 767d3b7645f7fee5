"""The same checks against containers (testcontainers) and against local processes.

Each test runs twice: `local` starts the server as a process (always), `container` starts the
image the deployment uses through testcontainers, only where a Docker engine answers (the
`docker_engine` fixture skips with the reason otherwise). Same body, so the twins agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest

from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.integration.deploy.ledger_projection import LedgerTotals, snapshot
from tests.integration.deploy.load import assert_exactly_once, expected_balances, ledger_commands
from tests.integration.deploy.test_projection_crashes import record
from tests.support.ledger import LEDGER

CLOCK = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
NATS_IMAGE = "nats:2.12-alpine"  # as in docker-compose.yml
POSTGRES_IMAGE = "postgres:17-alpine"
BACKENDS = ["local", pytest.param("container", marks=pytest.mark.docker)]


@pytest.fixture(params=BACKENDS)
def nats_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "local":
        with NatsServer(tmp_path / "nats") as server:
            yield server.url
        return
    request.getfixturevalue("docker_engine")
    from testcontainers.community.nats import NatsContainer

    with NatsContainer(NATS_IMAGE, jetstream=True) as container:
        yield container.nats_uri()


@pytest.fixture(params=BACKENDS)
def read_model_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "local":
        yield str(request.getfixturevalue("postgres_url"))
        return
    request.getfixturevalue("docker_engine")
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer(POSTGRES_IMAGE, driver="psycopg") as container:
        yield container.get_connection_url()


async def test_commands_land_once_and_project_on_this_nats(nats_url: str, tmp_path: Path) -> None:
    nc = await nats.connect(nats_url, connect_timeout=5)
    try:
        commands = ledger_commands("tc", 30)
        await record(nc, commands)
        store = EventStore(nc, CLOCK)
        assert_exactly_once([e async for e in store.read_stream(LEDGER)], commands)
        engine = make_engine(f"sqlite:///{tmp_path / 'rm.db'}")
        runner = ProjectionRunner(nc, engine, LedgerTotals())
        await runner.start()
        assert await runner.wait_until({LEDGER.stream: await store.last_seq(LEDGER)}, timeout=120)
        await runner.stop()
        balances = {r[0]: (r[1], r[2]) for r in snapshot(engine)["balances"]}  # type: ignore[attr-defined]
        assert balances == expected_balances(commands)
    finally:
        await nc.close()


async def test_projection_on_this_postgres_equals_a_sqlite_rebuild(
    nats_client: nats.aio.client.Client, read_model_url: str, tmp_path: Path
) -> None:
    commands = ledger_commands("pgtc", 30)
    await record(nats_client, commands)
    last = await EventStore(nats_client, CLOCK).last_seq(LEDGER)
    results = []
    for url in (read_model_url, f"sqlite:///{tmp_path / 'rebuild.db'}"):
        engine = make_engine(url)
        runner = ProjectionRunner(nats_client, engine, LedgerTotals(), batch=10)
        await runner.start()
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        await runner.stop()
        results.append(snapshot(engine))
    assert results[0] == results[1]
    assert results[0]["parked"] == []
