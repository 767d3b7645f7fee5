"""The whole system in-process and a client of its gateway: shared by the gateway tests and the
audit tests that forge what a stream's NATS login can put before the readers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NATS

from bootstrap.system import System
from tests.integration.gateway.harness import settings


@pytest.fixture
async def system(nats_client: NATS, tmp_path: Path, database_url: str) -> AsyncIterator[System]:
    """The whole system in-process (services + gateway) on the given read-model database."""
    running = await System(
        nats_client, tmp_path, settings(database_url=database_url), with_notifier=False
    ).start()
    yield running
    await running.stop()


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's ASGI app in this process, without a socket."""
    assert system.app is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=system.app), base_url="http://gateway.test"
    ) as c:
        yield c
