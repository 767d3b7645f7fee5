"""pytest plugin (`-p eventstore.testing.fixtures`): real servers for every package's tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.docker import docker_engine_available
from eventstore.testing.hangs import (  # noqa: F401  (hooks: asyncio tasks dumped before a timeout)
    pytest_timeout_cancel_timer,
    pytest_timeout_set_timer,
)
from eventstore.testing.nats_server import NatsServer
from eventstore.testing.postgres import PostgresCluster


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream").start()
    yield server
    server.stop()


async def connect(url: str, **options: object) -> NATS:
    return await nats.connect(
        url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        connect_timeout=2,
        **options,
    )


@pytest.fixture
async def nats_client(nats_server: NatsServer) -> AsyncIterator[NATS]:
    nc = await connect(nats_server.url)
    yield nc
    await nc.close()


@pytest.fixture
def fixed_clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
async def event_store(nats_client: NATS, fixed_clock: FixedClock) -> EventStore:
    return EventStore(nats_client, fixed_clock)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database on the session's throwaway cluster, dropped after the test.

    FILE_COPY copies the small template's files (fsync is off) instead of logging every
    block, and dropping keeps the cluster small: a run's hundred-odd databases were ~1 GB
    for the session's teardown to delete.
    """
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = f"host=127.0.0.1 port={postgres_cluster.port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
    yield postgres_cluster.url_for(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'read-models.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def docker_engine() -> str:
    available, reason = docker_engine_available()
    if not available:
        pytest.skip(f"testcontainers variant skipped: {reason}")
    return reason
