"""cmd20: the processed-command mirrors under deploy/nats/accounts.conf. Each service keeps
the keys of every context's record (`eventstore.processed.RecordMirror`): it may hear every
record's writes and publish the one barrier key of the others' buckets (refused by their
streams), and still writes no other key of theirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts_schema.subjects import CONTEXTS, ENROLMENT, NOTIFIER, REGISTRY
from eventstore.processed import KeyValueProcessedCommands, RecordMirror, processed_bucket
from eventstore.testing.nats_server import NatsServer
from notifier.nats_accounts import dev_environment, dev_password
from tests.integration.deploy.test_nats_security import Client, server_config


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    started = NatsServer(tmp_path, config_file=server_config(tmp_path), env=dev_environment())
    yield started.start()
    started.stop()


async def test_each_service_mirrors_every_record_and_writes_no_other_key_of_theirs(
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
        for context, user in users.items():
            held = [RecordMirror(user.nc, processed_bucket(c)) for c in CONTEXTS.values()]
            for mirror in held:
                await mirror.start()
            for mirror in held:
                assert await mirror.loaded(), (context.name, mirror._prefix)
            for other in CONTEXTS.values():
                assert next(m for m in held if processed_bucket(other) in m._prefix).knows(
                    f"{other.name}-1"
                )
            await user.nc.flush()
            assert not [e for e in user.errors if "permissions violation" in e], user.errors
            for mirror in held:
                await mirror.close()
            # Any other key of another context's record: refused by the server.
            other = next(c for c in CONTEXTS.values() if c is not context)
            await user.nc.publish(f"$KV.{processed_bucket(other)}.forged", b"x")
            await user.nc.flush()
            await user.nc.flush()
            assert [e for e in user.errors if "permissions violation" in e], context.name
    finally:
        for user in users.values():
            await user.nc.close()
