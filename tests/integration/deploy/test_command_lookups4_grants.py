"""The processed-command lookups under deploy/nats/accounts.conf: a service reads its own
record and the other contexts' records key by key and with the lookups of one loop turn
together (one multi-key Direct Get), with no permission violation; and reads the others'
records only, never writes them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY
from eventstore.processed import KeyValueProcessedCommands, LazyBucket, processed_bucket
from eventstore.testing.nats_server import NatsServer
from notifier.nats_accounts import dev_environment, dev_password
from tests.integration.deploy.test_nats_security import Client, server_config


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    started = NatsServer(tmp_path, config_file=server_config(tmp_path), env=dev_environment())
    yield started.start()
    started.stop()


async def test_each_service_reads_every_record_together_and_writes_only_its_own(
    server: NatsServer,
) -> None:
    users = {
        c: await Client().connect(server.url, c.name, dev_password(c.name))
        for c in (REGISTRY, ENROLMENT, NOTIFIER)
    }
    try:
        own = {c: await KeyValueProcessedCommands.open(u.nc, c) for c, u in users.items()}
        for context, record in own.items():
            await record.put(f"{context.name}-1", context.name.encode())
            await record.put(f"{context.name}-2", context.name.encode())
        for context, user in users.items():
            for other in own:
                record = (
                    own[context]
                    if other is context
                    else LazyBucket(user.nc, processed_bucket(other))
                )
                assert await record.lookup(f"{other.name}-1", 2.0) == other.name.encode()
                keys = [f"{other.name}-1", f"{other.name}-2", "never"]
                found = await asyncio.gather(*(record.lookup(k, 2.0) for k in keys))
                assert found == [other.name.encode(), other.name.encode(), None]
            with pytest.raises(PermissionError):
                await LazyBucket(user.nc, processed_bucket(REGISTRY)).put("x", b"x")
            await user.nc.flush()
            assert not [e for e in user.errors if "permissions violation" in e], user.errors
    finally:
        for user in users.values():
            await user.nc.close()
