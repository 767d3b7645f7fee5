"""`audit projections rebuild` asks `may_create_consumers` whether its groups' runners may
run consumers (else they read by direct gets). The probe created an ephemeral consumer
(`$JS.API.CONSUMER.CREATE.<stream>`), while a runner creates a durable one by name and
filter, asks its info, pulls from it and deletes it: a login allowed only the ephemeral
subject was told yes, and the rebuild's runners were then refused until the group timed
out. Now the probe answers yes exactly when the runner's consumer works."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from eventstore.nats_launcher import NatsServer
from eventstore.split_rebuild import may_create_consumers

STREAM, SUBJECTS = "PROBED", "probed.events.>"
TIMEOUT = 10.0  # an allowed request answers at once; a refused one ends only in this
READS = ["$JS.API.INFO", f"$JS.API.STREAM.INFO.{STREAM}", f"$JS.API.DIRECT.GET.{STREAM}"]
EPHEMERAL_ONLY = [
    *READS,
    f"$JS.API.CONSUMER.CREATE.{STREAM}",
    f"$JS.API.CONSUMER.DELETE.{STREAM}.*",
]
RUNNER = [
    *READS,
    f"$JS.API.CONSUMER.CREATE.{STREAM}.>",
    f"$JS.API.CONSUMER.INFO.{STREAM}.*",
    f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.*",
    f"$JS.API.CONSUMER.DELETE.{STREAM}.*",
    f"$JS.ACK.{STREAM}.>",
]
USERS = {"admin": None, "ephemeral": EPHEMERAL_ONLY, "runner": RUNNER, "reader": READS}


def _user(name: str, publish: list[str] | None) -> str:
    if publish is None:
        return f'{{user: "{name}", password: "pw"}}'
    allow = json.dumps(publish)
    return (f'{{user: "{name}", password: "pw", permissions: {{publish: {{allow: {allow}}},'
            f' subscribe: {{allow: ["_INBOX.>"]}}}}}}')  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    users = ",\n".join(_user(n, p) for n, p in USERS.items())
    config = tmp_path / "server.conf"
    config.write_text(f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
                      f"authorization {{ users: [\n{users}\n] }}\n")  # fmt: skip
    started = NatsServer(tmp_path, config_file=config)
    yield started.start()
    started.stop()


@pytest.fixture
async def stream(server: NatsServer) -> AsyncIterator[None]:
    nc = NATS()
    await nc.connect(server.url, user="admin", password="pw")
    js = nc.jetstream()
    await js.add_stream(name=STREAM, subjects=[SUBJECTS])
    await js.publish("probed.events.tender.t1.TenderPlanned", b"{}")
    yield
    await nc.close()


async def runner_consumer_works(nc: NATS) -> bool:
    """What a projection runner's `DurableSubscriber` does when it arms after a position."""
    js = nc.jetstream(timeout=TIMEOUT)
    config = ConsumerConfig(
        durable_name="rebuild-group-0",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=1,
        filter_subject=SUBJECTS,
    )
    try:
        sub = await js.pull_subscribe(SUBJECTS, durable="rebuild-group-0", stream=STREAM,
                                      config=config)  # fmt: skip
        [message] = await sub.fetch(1, timeout=TIMEOUT)
        await message.ack()
        await js.delete_consumer(STREAM, "rebuild-group-0")
    except Exception:
        return False
    return True


@pytest.mark.parametrize("user", ["runner", "ephemeral", "reader"])
async def test_the_probe_says_yes_exactly_when_the_runner_s_consumer_works(
    server: NatsServer, stream: None, user: str
) -> None:
    nc = NATS()
    await nc.connect(server.url, user=user, password="pw", error_cb=_quiet)
    try:
        probe = await may_create_consumers(nc, STREAM, timeout=TIMEOUT)
        works = await runner_consumer_works(nc)
    finally:
        await nc.close()
    assert probe == works, (user, probe, works)
    assert works == (user == "runner"), (user, works)


async def _quiet(exc: Exception) -> None:
    """The refused requests' permission violations are expected here."""
