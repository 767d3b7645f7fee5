"""The registry service, served in this process on the test's JetStream: what `audit ocds
import` sends its commands to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from bootstrap.parts import registry_service
from eventstore.clock import SystemClock
from eventstore.service_app import CommandServer, serve_in_process, server_url
from eventstore.store import EventStore


@pytest.fixture(autouse=True)
def not_the_checkouts_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit CLI falls back on ./data/endpoints.json: a `make run` in this checkout would
    lend the tests its database and its auditor's login (their verify then failed)."""
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path / "no-make-run"))


@pytest.fixture
async def registry(nats_client: NATS) -> AsyncIterator[CommandServer]:
    clock = SystemClock()
    server = await serve_in_process(
        server_url(nats_client), [registry_service(EventStore(nats_client, clock), clock)]
    )
    yield server
    await server.stop()
